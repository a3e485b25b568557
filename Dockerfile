# Store Provisioner's image: the web process by default; charts/platform runs
# the same image as `manage.py qcluster` for the two task queues and as
# `manage.py migrate` for the migrations Job.
#
#   docker build -t store-provisioner:0.1.0 .
#
# Official images only, by full version (python 3.11.16 on Debian bookworm).

# --- helm: the version the local cluster and the tests use
# (localcluster/versions.env), checked against its published SHA-256 before
# it is unpacked; pass --build-arg HELM_SHA256=<digest> to pin the digest too.
FROM python:3.11.16-slim-bookworm AS helm
ARG HELM_VERSION=v3.22.0
ARG HELM_SHA256=""
ARG TARGETARCH=amd64
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /helm
RUN set -eu; \
    tarball="helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"; \
    curl -fsSLO "https://get.helm.sh/${tarball}"; \
    curl -fsSLO "https://get.helm.sh/${tarball}.sha256sum"; \
    sha256sum -c "${tarball}.sha256sum"; \
    if [ -n "${HELM_SHA256}" ]; then echo "${HELM_SHA256}  ${tarball}" | sha256sum -c; fi; \
    tar -xzf "${tarball}" "linux-${TARGETARCH}/helm"; \
    install -m 0755 "linux-${TARGETARCH}/helm" /usr/local/bin/helm; \
    helm version --short

# --- the platform
FROM python:3.11.16-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    HELM_BIN=/usr/local/bin/helm
WORKDIR /app

# The runtime packages, pinned in requirements.txt; the test runners, the
# browser driver and the checkers are in requirements-dev.txt and stay out.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --from=helm /usr/local/bin/helm /usr/local/bin/helm
COPY . .

# Static files are collected into the image (the pods' root filesystem is
# read-only); whitenoise serves them with hashed names. The key only lets the
# settings load: nothing is signed at build time.
RUN DEBUG=false SECRET_KEY=build-time-only-not-a-secret python manage.py collectstatic --noinput \
 && python -m compileall -q accounts provisioner stores

# An unprivileged user with a fixed id: the chart's securityContext runs as it.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001

EXPOSE 8000
# The Procfile's web line, listening on every address of the container.
CMD ["gunicorn", "provisioner.wsgi", "--bind=0.0.0.0:8000", "--workers=2", "--threads=4", "--access-logfile=-", "--worker-tmp-dir=/tmp"]
