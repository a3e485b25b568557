"""Readiness and failure diagnosis over API object dicts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stores.cluster.diagnosis import Snapshot, assess, find_failure, parse_time

from .factories import condition, deployment, event, iso, job, meta, now, pod, statefulset

QUOTA_MESSAGE = (
    'pods "web-5d4f-x" is forbidden: exceeded quota: store-quota, requested: limits.cpu=8, '
    "used: limits.cpu=0, limited: limits.cpu=4"
)


# ---------------------------------------------------------------- readiness


def test_it_is_ready_when_every_workload_is():
    snapshot = Snapshot(
        deployments=[deployment("wordpress")],
        statefulsets=[statefulset("mariadb")],
        jobs=[job(succeeded=1)],
    )
    result = assess(snapshot)
    assert result.ready
    assert result.progress == {
        "Deployment/wordpress": "wordpress 1/1 ready",
        "StatefulSet/mariadb": "mariadb 1/1 ready",
        "Job/store-acme-setup": "job store-acme-setup 1/1 succeeded",
    }


def test_it_is_not_ready_without_any_workload():
    assert not assess(Snapshot(pods=[pod()])).ready


@pytest.mark.parametrize(
    "obj",
    [
        deployment(available=0),
        deployment(replicas=2, updated=1),
        deployment(total=2),  # an old replica is still around
        deployment(generation=2, observed=1),  # controller has not seen the new spec
        statefulset(ready=0),
        statefulset(current="db-1", update="db-2"),
        job(succeeded=0),
        job(completions=3, succeeded=2),
    ],
)
def test_it_is_not_ready_while_a_workload_is_pending(obj):
    kind = {"updatedReplicas": "deployments", "readyReplicas": "statefulsets"}
    key = next((v for k, v in kind.items() if k in obj["status"]), "jobs")
    assert not assess(Snapshot(**{key: [obj]})).ready


def test_it_ignores_revisions_of_on_delete_statefulsets():
    snapshot = Snapshot(statefulsets=[statefulset(current="db-1", update="db-2", strategy="OnDelete")])
    assert assess(snapshot).ready


def test_it_counts_a_complete_condition_as_success():
    assert assess(Snapshot(jobs=[job(conditions=[condition("Complete")])])).ready


def test_it_does_not_wait_for_cronjob_runs():
    snapshot = Snapshot(deployments=[deployment()], jobs=[job("backup-123", owner_kind="CronJob")])
    assert assess(snapshot).ready


def test_it_reports_partial_progress():
    result = assess(Snapshot(deployments=[deployment("wordpress", replicas=2, available=1, updated=2)]))
    assert result.progress == {"Deployment/wordpress": "wordpress 1/2 ready"}


# ---------------------------------------------------------------- pod failures


@pytest.mark.parametrize(
    "reason",
    [
        "ErrImagePull",
        "ImagePullBackOff",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "InvalidImageName",
        "CreateContainerError",
    ],
)
def test_it_fails_on_fatal_waiting_reasons(reason):
    snapshot = Snapshot(pods=[pod("wordpress-xyz", waiting=reason, message="the details")])
    assert find_failure(snapshot) == f"pod wordpress-xyz: {reason}: the details"


def test_it_waits_while_the_kubelet_cannot_yet_read_a_new_pods_secret():
    # Seen on the real node: the Node authorizer learns of a pod a moment after
    # it is bound, and the kubelet retries; a missing secret says "not found".
    waiting = pod(
        "store-setup-x",
        waiting="CreateContainerConfigError",
        message="failed to sync secret cache: timed out waiting for the condition",
    )
    assert find_failure(Snapshot(pods=[waiting])) is None
    missing = pod("store-setup-x", waiting="CreateContainerConfigError", message='secret "store-secret" not found')
    assert find_failure(Snapshot(pods=[missing])) == (
        'pod store-setup-x: CreateContainerConfigError: secret "store-secret" not found'
    )


def test_it_reads_init_containers_too():
    snapshot = Snapshot(pods=[pod("db-0", init_waiting="ErrImagePull", message="no such image")])
    assert find_failure(snapshot) == "pod db-0: ErrImagePull: no such image"


def test_it_leaves_out_an_empty_message():
    assert find_failure(Snapshot(pods=[pod("w", waiting="CrashLoopBackOff")])) == "pod w: CrashLoopBackOff"


@pytest.mark.parametrize("reason", ["ContainerCreating", "PodInitializing"])
def test_it_accepts_normal_waiting_reasons(reason):
    assert find_failure(Snapshot(pods=[pod(waiting=reason)])) is None


def test_it_ignores_pods_being_deleted():
    assert find_failure(Snapshot(pods=[pod(waiting="ErrImagePull", deleting=True)])) is None


def test_it_fails_on_unschedulable_pods():
    message = "0/2 nodes are available: 2 Insufficient cpu."
    snapshot = Snapshot(pods=[pod("web-1", scheduled=("Unschedulable", message))])
    assert find_failure(snapshot) == f"pod web-1: FailedScheduling: {message}"


def test_it_waits_for_claims_to_bind():
    message = "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    assert find_failure(Snapshot(pods=[pod("db-0", scheduled=("Unschedulable", message))])) is None


def test_it_waits_out_a_conflict_while_a_claim_is_bound():
    # Seen on the real node: the scheduler binds a claim while its provisioner updates it.
    message = (
        'running PreBind plugin "VolumeBinding": Operation cannot be fulfilled on persistentvolumeclaims '
        '"store-app": the object has been modified; please apply your changes to the latest version and try again'
    )
    assert find_failure(Snapshot(pods=[pod("setup-1", scheduled=("Unschedulable", message))])) is None


def test_it_waits_out_the_schedulers_stale_copy_of_a_claim():
    # Seen on the real node under load, as a pod's FailedScheduling condition and Event.
    message = (
        'running Reserve plugin "VolumeBinding": "store-mug-shop-aa3a/store-app" is out of sync '
        "(stored: 8631, assume: 8576)"
    )
    assert find_failure(Snapshot(pods=[pod("storefront-1", scheduled=("Unschedulable", message))])) is None


def test_it_waits_for_the_pod_a_pod_must_run_beside():
    message = "0/2 nodes are available: 2 node(s) didn't match pod affinity rules."
    assert find_failure(Snapshot(pods=[pod("setup-1", scheduled=("Unschedulable", message))])) is None


# ---------------------------------------------------------------- job failures


def test_it_fails_with_the_job_condition():
    failed = condition("Failed", reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit")
    snapshot = Snapshot(jobs=[job(conditions=[failed])])
    assert find_failure(snapshot) == (
        "job store-acme-setup failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    )


def test_it_fails_as_soon_as_the_job_is_doomed():
    target = condition("FailureTarget", reason="DeadlineExceeded", message="Job was active longer than specified")
    snapshot = Snapshot(jobs=[job(conditions=[target])])
    assert find_failure(snapshot).startswith("job store-acme-setup failed: DeadlineExceeded")


def test_it_ignores_a_false_failed_condition():
    assert find_failure(Snapshot(jobs=[job(conditions=[condition("Failed", status="False")])])) is None


# ---------------------------------------------------------------- deployment conditions


def test_it_reports_quota_from_the_replica_failure_condition():
    failure = condition("ReplicaFailure", reason="FailedCreate", message=QUOTA_MESSAGE)
    snapshot = Snapshot(deployments=[deployment(available=0, conditions=[failure])])
    assert find_failure(snapshot) == f"quota exceeded: {QUOTA_MESSAGE}"


def test_it_reports_other_creation_failures_by_name():
    message = 'pods "web-x" is forbidden: maximum cpu usage per Container is 2, but limit is 8'
    failure = condition("ReplicaFailure", reason="FailedCreate", message=message)
    snapshot = Snapshot(deployments=[deployment("web", available=0, conditions=[failure])])
    assert find_failure(snapshot) == f"deployment web: FailedCreate: {message}"


@pytest.mark.parametrize(
    "message",
    [
        'pods "web-x" is forbidden: error looking up service account s/default: serviceaccount "default" not found',
        'pods "web-x" is forbidden: status unknown for quota: store-quota, resource: limits.cpu',
    ],
)
def test_it_waits_out_ordering_hiccups(message):
    failure = condition("ReplicaFailure", reason="FailedCreate", message=message)
    assert find_failure(Snapshot(deployments=[deployment(available=0, conditions=[failure])])) is None


def test_it_fails_when_the_progress_deadline_passed():
    stalled = condition(
        "Progressing",
        status="False",
        reason="ProgressDeadlineExceeded",
        message='ReplicaSet "web-5d4f" has timed out progressing.',
    )
    snapshot = Snapshot(deployments=[deployment("web", available=0, conditions=[stalled])])
    assert find_failure(snapshot) == (
        'deployment web: ProgressDeadlineExceeded: ReplicaSet "web-5d4f" has timed out progressing.'
    )


# ---------------------------------------------------------------- events


def test_it_reports_quota_events_of_a_pending_statefulset():
    message = f"create Pod db-0 in StatefulSet db failed error: {QUOTA_MESSAGE}"
    snapshot = Snapshot(
        statefulsets=[statefulset("db", ready=0)],
        events=[event("FailedCreate", message, kind="StatefulSet", name="db", uid="uid-db")],
    )
    assert find_failure(snapshot) == f"quota exceeded: {message}"


def test_it_reports_forbidden_events_of_a_pending_job():
    message = 'pods "setup-x" is forbidden: violates PodSecurity "restricted:latest"'
    snapshot = Snapshot(
        jobs=[job("setup")], events=[event("FailedCreate", f"Error creating: {message}", kind="Job", name="setup")]
    )
    assert find_failure(snapshot) == f"job setup: FailedCreate: {message}"


def test_it_maps_replicaset_events_to_their_deployment():
    message = f"Error creating: {QUOTA_MESSAGE}"
    pending = Snapshot(deployments=[deployment("web", available=0)], events=[event("FailedCreate", message)])
    assert find_failure(pending) == f"quota exceeded: {QUOTA_MESSAGE}"
    recovered = Snapshot(deployments=[deployment("web")], events=[event("FailedCreate", message)])
    assert find_failure(recovered) is None


def test_it_words_replicaset_events_like_the_deployment_condition():
    message = 'pods "web-5d4f-x" is forbidden: maximum cpu usage per Container is 2, but limit is 3'
    from_event = Snapshot(
        deployments=[deployment("web", available=0)],
        events=[event("FailedCreate", f"Error creating: {message}", name="web-5d4f")],
    )
    from_condition = Snapshot(
        deployments=[
            deployment(
                "web", available=0, conditions=[condition("ReplicaFailure", reason="FailedCreate", message=message)]
            )
        ]
    )
    assert find_failure(from_event) == find_failure(from_condition) == f"deployment web: FailedCreate: {message}"


def test_it_ignores_events_about_recovered_or_replaced_objects():
    message = f"create Pod db-0 in StatefulSet db failed error: {QUOTA_MESSAGE}"
    stale = event("FailedCreate", message, kind="StatefulSet", name="db", uid="uid-of-an-older-db")
    assert find_failure(Snapshot(statefulsets=[statefulset("db", ready=0)], events=[stale])) is None
    fresh = event("FailedCreate", message, kind="StatefulSet", name="db", uid="uid-db")
    assert find_failure(Snapshot(statefulsets=[statefulset("db")], events=[fresh])) is None


def test_it_ignores_events_from_before_this_attempt():
    message = f"create Pod db-0 in StatefulSet db failed error: {QUOTA_MESSAGE}"
    old = event("FailedCreate", message, kind="StatefulSet", name="db", age_seconds=600)
    snapshot = Snapshot(statefulsets=[statefulset("db", ready=0)], events=[old])
    assert find_failure(snapshot, events_since=now() - timedelta(seconds=120)) is None
    assert find_failure(snapshot) is not None


def test_it_ignores_normal_events():
    snapshot = Snapshot(
        deployments=[deployment("web", available=0)],
        events=[event("FailedCreate", QUOTA_MESSAGE, type_="Normal")],
    )
    assert find_failure(snapshot) is None


def test_it_reports_failed_scheduling_events_of_unscheduled_pods():
    message = "0/2 nodes are available: 2 node(s) had untolerated taint."
    snapshot = Snapshot(
        pods=[pod("web-1")],
        events=[event("FailedScheduling", message, kind="Pod", name="web-1", uid="uid-web-1")],
    )
    assert find_failure(snapshot) == f"pod web-1: FailedScheduling: {message}"
    assert find_failure(Snapshot(events=snapshot.events)) is None  # the pod is gone


def test_it_parses_both_timestamp_spellings():
    assert parse_time("2025-01-02T03:04:05Z") == parse_time("2025-01-02T03:04:05+00:00")
    assert parse_time("2025-01-02T03:04:05.123456Z").microsecond == 123456
    assert parse_time(None) is None and parse_time("garbage") is None


# ---------------------------------------------------------------- out of memory and setup messages


def _terminated_pod(name, *, reason, message="", restarting=False, job_name="store-acme-setup"):
    terminated = {"reason": reason, "exitCode": 137 if reason == "OOMKilled" else 1, "message": message}
    if restarting:
        state = {
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": terminated},
        }
    else:
        state = {"state": {"terminated": terminated}}
    metadata = meta(name, labels={"batch.kubernetes.io/job-name": job_name} if job_name else {})
    return {"metadata": metadata, "status": {"phase": "Failed", "containerStatuses": [{"name": "setup", **state}]}}


def test_it_reports_an_oom_killed_setup_pod_as_out_of_memory():
    snapshot = Snapshot(jobs=[job()], pods=[_terminated_pod("store-acme-setup-x1", reason="OOMKilled")])
    assert find_failure(snapshot) == "pod store-acme-setup-x1: out of memory: container setup was OOMKilled"


def test_it_reports_a_failed_job_by_its_oom_killed_pod():
    failed = condition("Failed", reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit")
    snapshot = Snapshot(
        jobs=[job(conditions=[failed])], pods=[_terminated_pod("store-acme-setup-x1", reason="OOMKilled")]
    )
    assert find_failure(snapshot) == "job store-acme-setup failed: out of memory: container setup was OOMKilled"


def test_it_reports_a_restarting_oom_killed_container_as_out_of_memory():
    snapshot = Snapshot(
        pods=[_terminated_pod("store-acme-medusa-x", reason="OOMKilled", restarting=True, job_name=None)]
    )
    assert find_failure(snapshot) == "pod store-acme-medusa-x: out of memory: container setup was OOMKilled"


def test_it_reports_a_failed_job_by_the_setup_scripts_last_line():
    failed = condition("Failed", reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit")
    logs = "npm warn deprecated x\nsetup failed: migration failed: connection refused\n"
    pods = [
        _terminated_pod("store-acme-setup-x1", reason="Error", message=logs),
        _terminated_pod("other-job-x", reason="Error", message="unrelated", job_name="other"),
    ]
    snapshot = Snapshot(jobs=[job(conditions=[failed])], pods=pods)
    assert find_failure(snapshot) == "job store-acme-setup failed: setup failed: migration failed: connection refused"


def test_it_does_not_fail_a_pod_that_came_back_after_an_oom_kill():
    recovered = _terminated_pod("store-acme-medusa-x", reason="OOMKilled", restarting=True, job_name=None)
    recovered["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": iso(now())}}
    assert find_failure(Snapshot(pods=[recovered])) is None
