# Store Provisioner: `make run` starts the platform, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What `make run` needs (requirements.txt), and on top of it what the tests and
# the checkers need (requirements-dev.txt): one stamp each, so `make run` never
# installs a test runner and a change to either file reinstalls what it lists.
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.requirements-dev-installed
PORT ?= 8000
# The settings default DEBUG to off (production); everything make starts here
# (the platform, the tests, the benchmarks) is development on this machine.
DEBUG ?= true
export DEBUG

.PHONY: run test test-unit test-integration test-browser test-postgres lint cluster cluster-down demo system-packages bench

# Debian's own python3 needs python3-venv for `-m venv`; a venv left without
# pip by a failed attempt is made again.
$(STAMP): requirements.txt
	@test -x $(BIN)/pip || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		rm -rf $(VENV); apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
		&& $(PYTHON) -m venv $(VENV); }; }
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(DEV_STAMP)

## run: web server + provisioning workers + control workers, against the current
## kubeconfig's cluster, else a kind cluster (kind + Docker), else the local control plane
## (scripts/run-cluster.sh decides; docs/operations.md, "Which cluster")
run: $(STAMP)
	PORT=$(PORT) VENV_BIN=$(CURDIR)/$(BIN) bash scripts/run.sh

## demo: the same, always on the local control plane (stores never serve HTTP there)
demo: $(STAMP)
	PORT=$(PORT) VENV_BIN=$(CURDIR)/$(BIN) CLUSTER_MODE=simulated bash scripts/run.sh

## cluster / cluster-down: the local control plane used by the tests, with one real node where the
## machine can run it (containerd, kubelet, kube-proxy, kube-router; see localcluster/README.md)
cluster:
	bash localcluster/up.sh

cluster-down:
	bash localcluster/down.sh
	if [ -d .localcluster-pg ]; then LOCALCLUSTER_DIR=$(CURDIR)/.localcluster-pg bash localcluster/down.sh; fi

## cluster-figures: memory of the local cluster's processes, disk of its caches, its restart time
.PHONY: cluster-figures
cluster-figures:
	bash localcluster/figures.sh

## system-packages: Debian's Chromium (browser tests), shellcheck and busybox (setup-script tests), PHP and PHPMailer (the mail plugin's tests),
## MariaDB and PostgreSQL (the backup scripts' tests run private servers of their own)
SYSTEM_PACKAGES := chromium shellcheck busybox redis-server php-cli libphp-phpmailer mariadb-server mariadb-client postgresql
# The unit tests need only the setup-script, mail-plugin and backup-script tests' tools, not a browser.
UNIT_PACKAGES := shellcheck busybox php-cli libphp-phpmailer mariadb-server mariadb-client postgresql
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## kube-score: built from the Go module proxy (cached); the chart tests run it over every rendered chart
.PHONY: kube-score
kube-score:
	bash localcluster/build.sh kube-score
test: kube-score

## objectstore: SeaweedFS's weed, built from the Go module proxy (cached; minutes when cold, longer than a
## test may take); the object store tests (tests/objectstore.py) run it
.PHONY: objectstore
objectstore:
	bash localcluster/build.sh objectstore > /dev/null
test: objectstore

## lint: ruff (lint and format) and mypy, as configured in pyproject.toml
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPY_CACHE_DIR=$(HOME)/.cache/store-provisioner/mypy $(BIN)/mypy .

## test: every test — unit, integration (local control plane, real Helm) and browser —
## on SQLite and, beside it on its own local control plane, every test that touches the
## database again on PostgreSQL (scripts/test.sh says why and how). scripts/test.sh brings up
## the local control plane itself and, when it ends, stops what it started (KEEP_CLUSTER=1 keeps it)
# Lint comes first: it takes seconds, the tests take many minutes.
test: $(DEV_STAMP) lint system-packages
	VENV_BIN=$(CURDIR)/$(BIN) bash scripts/test.sh

## test-postgres: the tests that touch the database, on PostgreSQL (PYTEST_ARGS narrows them)
# A private server from Debian's postgresql (scripts/postgres.sh: installed,
# created and started on first use, reused after); pytest-django creates the
# test database in it. The URL is checked first so that a server that failed
# to start cannot fall back to SQLite unnoticed.
test-postgres: $(DEV_STAMP) cluster system-packages
	url=$$(bash scripts/postgres.sh up) && test -n "$$url" && \
	  DATABASE_URL="$$url" $(BIN)/python -m pytest --database-tests-only $(PYTEST_ARGS)

## test-unit: the tests that need no cluster and no browser. The chart tests'
## helm and kube-score are built from the Go module proxy the first time
## (cached in ~/.cache/store-provisioner, like the local control plane's
## binaries) and handed over as HELM_BIN and KUBE_SCORE_BIN; the setup-script
## tests need Debian's shellcheck and busybox.
test-unit: $(DEV_STAMP)
	@$(MAKE) --no-print-directory system-packages SYSTEM_PACKAGES="$(UNIT_PACKAGES)"
	bash localcluster/build.sh objectstore > /dev/null
	eval "$$(bash localcluster/build.sh test-tools)" && $(BIN)/python -m pytest -m "not integration and not browser"

test-integration: $(DEV_STAMP) cluster
	$(BIN)/python -m pytest -m integration

test-browser: $(DEV_STAMP) cluster system-packages
	$(BIN)/python -m pytest -m browser

## store-images: the images of real stores on the local cluster's real node (the Medusa store image, and
## stand-ins for postgres and redis), built from Debian's packages and npm without Docker (cached under
## ~/.cache/store-provisioner/images), and imported into the node when it runs
.PHONY: store-images medusa-image
store-images:
	bash localcluster/store-images.sh build
	if [ -S .localcluster/node/containerd.sock ]; then bash localcluster/store-images.sh import; fi

## medusa-image: the Medusa store image with Docker (charts/medusa/image/Dockerfile), tagged as the chart's
## default; loaded into the kind cluster make run uses, when there is one
MEDUSA_IMAGE := localhost/store-provisioner/medusa:$(shell awk '/^image:/ {i=1; next} /^[A-Za-z]/ {i=0} i && $$1 == "tag:" {gsub(/"/, "", $$2); print $$2; exit}' charts/medusa/values.yaml)
medusa-image:
	docker build -f charts/medusa/image/Dockerfile -t $(MEDUSA_IMAGE) .
	if command -v kind >/dev/null && kind get clusters 2>/dev/null | grep -qx "$${KIND_CLUSTER_NAME:-store-provisioner}"; then \
		kind load docker-image $(MEDUSA_IMAGE) --name "$${KIND_CLUSTER_NAME:-store-provisioner}"; fi

bench: $(STAMP) cluster
	$(BIN)/python bench/provision.py

## bench-teardown: where a store delete's time goes (helm uninstall, namespace gone), one at a time and several at once
.PHONY: bench-teardown
bench-teardown: $(STAMP) cluster
	$(BIN)/python bench/teardown.py

## bench-dashboard: queries and server time of the dashboard's pages with 1,000 stores and 100,000 events (no cluster)
.PHONY: bench-dashboard
bench-dashboard: $(STAMP)
	$(BIN)/python bench/dashboard.py

## bench-backups: a night of backups over 1,000 ready stores: queries per round, Jobs at once (S3 server; no cluster)
.PHONY: bench-backups
bench-backups: $(STAMP)
	bash localcluster/build.sh objectstore >/dev/null
	$(BIN)/python bench/backup_round.py

## bench-monitoring: one round of store checks over 1,000 ready stores (stand-in storefronts; no cluster)
.PHONY: bench-monitoring
bench-monitoring: $(STAMP)
	$(BIN)/python bench/monitoring.py
