"""The backup part of the engine contract: every engine with a `BackupPlan` gets a
backup Job and a restore Job (stores/backups/jobs.py) that the platform can render
from its chart's pod templates, and those Jobs follow the same rules as the
chart's own pods: component label, requests and limits within the guardrails
(beside the running store), Pod Security `restricted`, pinned images. The
server-side dry run of the Jobs is in test_conformance_dry_run.py; the scripts they
run are run for real in tests/backups/.
"""

from __future__ import annotations

import pytest

from stores.backups.jobs import BACKUP_COMPONENT, BACKUP_DIR, FILES_DIR, JobRequest, TemplateMissing, objects, render
from stores.cluster import BackupAccess
from stores.cluster.guardrails import BACKUP_LABEL, BACKUP_LABEL_VALUE, backup_policies
from stores.engines.contract import COMPONENT_LABEL, SECRET_NAME
from tests.engines import test_conformance as contract
from tests.engines.support import (
    ENGINES_UNDER_TEST,
    backup_jobs,
    case_params,
    component,
    containers,
    selects,
    workloads,
)

# It never touches the platform's database; `make test` runs it in its SQLite pass, to even out
# the two passes (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.sqlite_pass

BACKED_UP = [case for case in case_params() if case.values[0].backup is not None]


class _Jobs:
    """The chart's renderings, as the backup Jobs alone (or with the chart's objects)."""

    def __init__(self, charts, *, with_chart: bool = False):
        self.charts, self.with_chart = charts, with_chart

    def render(self, engine, profile):
        rendered = self.charts.render(engine, profile)
        if self.with_chart:
            # A backup and a restore never run at once (a restore waits for the backup).
            return rendered + backup_jobs(engine, rendered)[:1]
        return backup_jobs(engine, rendered)


def test_the_products_engines_are_all_backed_up():
    assert [e.key for e in ENGINES_UNDER_TEST if e.backup is None] == ["webshop"]


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_the_jobs_follow_the_chart_contract_for_pods(charts, engine, profile):
    jobs = _Jobs(charts)
    contract.test_every_pod_names_its_component(jobs, engine, profile)
    contract.test_every_container_states_requests_and_limits(jobs, engine, profile)
    contract.test_its_pods_meet_the_restricted_pod_security_profile(jobs, engine, profile)
    contract.test_every_image_is_pinned(jobs, engine, profile)


@pytest.fixture
def backups_on(settings):
    """A platform that backs stores up: its guardrails leave room for a backup Job."""
    settings.BACKUP_S3_ENDPOINT = "http://192.0.2.10:9000"
    settings.BACKUP_S3_ACCESS_KEY_ID = "platform"
    settings.BACKUP_S3_SECRET_ACCESS_KEY = "not-a-real-secret"


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_a_backup_job_fits_the_guardrails_beside_the_running_store(charts, backups_on, engine, profile):
    contract.test_it_fits_the_guardrails_its_stores_get(_Jobs(charts, with_chart=True), engine, profile)


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_without_the_room_a_backup_job_would_not_fit(charts, engine, profile):
    """The room the guardrails make for it is needed: the test above can fail."""
    with pytest.raises(AssertionError, match="ephemeral-storage"):
        contract.test_it_fits_the_guardrails_its_stores_get(_Jobs(charts, with_chart=True), engine, profile)


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_a_backup_runs_the_stores_own_images_in_order_and_a_restore_the_other_way(charts, engine, profile):
    plan = engine.backup
    rendered = charts.render(engine, profile)
    images = {component(w): w["spec"]["template"]["spec"]["containers"][0]["image"] for w in workloads(rendered)}
    backup, restore = backup_jobs(engine, rendered)
    for job, order in ((backup, ["database", "files", "transfer"]), (restore, ["transfer", "files", "database"])):
        spec = job["spec"]["template"]["spec"]
        assert [c["name"] for c in containers(spec)] == order
        by_name = {c["name"]: c for c in containers(spec)}
        assert by_name["database"]["image"] == images[plan.database_component]
        assert by_name["files"]["image"] == images[plan.files_component]
        assert by_name["transfer"]["image"] == images[plan.transfer_component]
        assert job["spec"]["backoffLimit"] == 0
        assert job["metadata"]["labels"][COMPONENT_LABEL] == BACKUP_COMPONENT
        assert job["spec"]["template"]["metadata"]["labels"][BACKUP_LABEL] == BACKUP_LABEL_VALUE
        for container in containers(spec):
            assert {"name": "work", "mountPath": BACKUP_DIR} in container["volumeMounts"], container["name"]
    assert by_name["transfer"]["command"][-1] == "get"
    put = containers(backup["spec"]["template"]["spec"])[-1]
    assert put["command"][-1] == "put"
    env = {e["name"]: e.get("value") for e in put["env"]}
    assert env["BACKUP_OBJECTS"].split() == list(objects(plan))
    assert [env[f"BACKUP_URL_{i}"].split("?")[0].rsplit("/", 1)[1] for i in range(3)] == list(objects(plan))


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_the_database_step_reaches_the_stores_database_with_its_own_credentials(charts, engine, profile):
    plan = engine.backup
    rendered = charts.render(engine, profile)
    database = next(
        c for c in containers(backup_jobs(engine, rendered)[0]["spec"]["template"]["spec"]) if c["name"] == "database"
    )
    env = {e["name"]: e for e in database["env"]}
    assert env["DB_HOST"]["value"] == plan.database_host
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in env.values() if "secretKeyRef" in e.get("valueFrom", {})}
    assert refs == {SECRET_NAME}, "the database's password comes from the store's secret, as the database's own does"
    # The Service by that name sends the port to the database's pods.
    service = next(o for o in rendered if o["kind"] == "Service" and o["metadata"]["name"] == plan.database_host)
    database_pods = next(w for w in workloads(rendered) if component(w) == plan.database_component)
    assert selects(
        {"matchLabels": service["spec"]["selector"]}, database_pods["spec"]["template"]["metadata"]["labels"]
    )
    assert plan.database_port in {p.get("targetPort", p["port"]) for p in service["spec"]["ports"]} | {
        p["port"] for p in service["spec"]["ports"]
    }


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_the_files_step_mounts_the_volume_that_holds_the_uploads(charts, engine, profile):
    plan = engine.backup
    rendered = charts.render(engine, profile)
    claims = {o["metadata"]["name"] for o in rendered if o["kind"] == "PersistentVolumeClaim"}
    for job, read_only in zip(backup_jobs(engine, rendered), (True, False), strict=True):
        spec = job["spec"]["template"]["spec"]
        volume = next(v for v in spec["volumes"] if v["name"] == "files")
        assert volume["persistentVolumeClaim"]["claimName"] in claims
        files = next(c for c in containers(spec) if c["name"] == "files")
        mount = next(m for m in files["volumeMounts"] if m["name"] == "files")
        assert mount["mountPath"] == FILES_DIR and mount["readOnly"] is read_only
        # The same place in the volume as the files component sees at plan.files_path.
        owner = next(w for w in workloads(rendered) if component(w) == plan.files_component)
        own = next(
            m
            for m in owner["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            if plan.files_path.startswith(m["mountPath"].rstrip("/") + "/") or plan.files_path == m["mountPath"]
        )
        rest = plan.files_path[len(own["mountPath"].rstrip("/")) :].strip("/")
        wanted = "" if plan.files_whole_volume else "/".join(p for p in (own.get("subPath", ""), rest) if p)
        assert mount.get("subPath", "") == wanted
        # Beside the pods that mount the (ReadWriteOnce) volume.
        terms = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms[0]["labelSelector"]["matchLabels"] == {COMPONENT_LABEL: plan.files_component}


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_the_workloads_a_restore_restarts_exist(charts, engine, profile):
    components = {component(w) for w in workloads(charts.render(engine, profile))}
    assert set(engine.backup.restart_components) <= components


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_every_pod_holding_a_directory_the_restore_replaces_is_restarted(charts, engine, profile):
    """A restore replaces what is in the archived directory; a running pod's subPath mount of a
    directory in there keeps the one that was deleted (the restored files stay unseen) until the
    pod restarts."""
    plan = engine.backup
    rendered = charts.render(engine, profile)
    restore = backup_jobs(engine, rendered)[1]["spec"]["template"]["spec"]
    claim = next(v for v in restore["volumes"] if v["name"] == "files")["persistentVolumeClaim"]["claimName"]
    files = next(c for c in containers(restore) if c["name"] == "files")
    archived = next(m for m in files["volumeMounts"] if m["name"] == "files").get("subPath", "")
    held = set()
    for workload in workloads(rendered):
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = workload["spec"]["template"]["spec"]
        volumes = {
            v["name"]
            for v in spec.get("volumes", [])
            if (v.get("persistentVolumeClaim") or {}).get("claimName") == claim
        }
        for container in containers(spec):
            for mount in container.get("volumeMounts", []):
                sub = mount.get("subPath", "")
                if mount["name"] in volumes and sub and (not archived or sub.startswith(archived + "/")):
                    held.add(component(workload))
    assert held <= set(plan.restart_components)


@pytest.mark.parametrize(("engine", "profile"), BACKED_UP)
def test_the_backup_policies_open_the_database_port_to_the_job_and_the_object_store_only(charts, engine, profile):
    plan = engine.backup
    access = BackupAccess(plan.database_component, plan.database_port, ("192.0.2.10",), 9000)
    egress, ingress = backup_policies(access)
    job_labels = backup_jobs(engine, charts.render(engine, profile))[0]["spec"]["template"]["metadata"]["labels"]
    assert selects(egress["spec"]["podSelector"], job_labels)
    rules = egress["spec"]["egress"]
    assert rules[1] == {
        "to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}],
        "ports": [{"protocol": "TCP", "port": 9000}],
    }
    assert rules[0]["ports"] == [{"protocol": "TCP", "port": plan.database_port}]
    assert ingress["spec"]["podSelector"] == {"matchLabels": {COMPONENT_LABEL: plan.database_component}}
    assert selects(ingress["spec"]["ingress"][0]["from"][0]["podSelector"], job_labels)


def test_a_plan_whose_component_the_store_lacks_is_refused_with_a_reason(charts):
    engine = next(e for e in ENGINES_UNDER_TEST if e.backup is not None)
    rendered = charts.render(engine, None)
    templates = {component(w): w["spec"]["template"] for w in workloads(rendered) if w["kind"] != "Job"}
    del templates[engine.backup.database_component]
    request = JobRequest(name="backup-1", restore=False, urls=("a", "b", "c"), deadline_seconds=60, labels={})
    with pytest.raises(TemplateMissing, match=f"no {engine.backup.database_component} workload"):
        render(engine.backup, templates, request)
