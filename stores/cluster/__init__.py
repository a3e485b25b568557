"""The cluster layer: everything the product does to Kubernetes and Helm.

This package is the only place that imports the ``kubernetes`` client or runs
``helm``. It knows nothing about Django: settings (kubeconfig path, helm
binary, quota sizes) come in as arguments.

Connecting
    ``connect(kubeconfig=None, context=None, request_timeout=10) -> Cluster``
    Uses the given kubeconfig, else $KUBECONFIG, else the in-cluster service
    account, else ~/.kube/config. Raises ``ClusterUnavailable`` when none is
    usable. Every request carries a timeout, so a hung API server can not
    hang a worker.

``Cluster``
    ``version() -> str``                     gitVersion; ClusterUnavailable if unreachable
    ``ensure_namespace(name, labels, annotations=None)``
                                             create, or merge labels/annotations into an
                                             existing one; ClusterError if it is Terminating
    ``namespace_phase(name) -> "Active" | "Terminating" | None``
    ``list_namespaces(label_selector) -> [{name, labels, annotations, phase}]``
    ``apply_guardrails(namespace, GuardrailSpec)``
                                             LimitRange "store-limits", ResourceQuota
                                             "store-quota", NetworkPolicies default-deny,
                                             allow-same-namespace, allow-dns,
                                             allow-ingress-controller, allow-internet-egress;
                                             create-or-replace, so re-running converges
    ``ensure_secret(namespace, name, data) -> data as stored``
                                             never overwrites a value; adds missing keys
    ``read_secret(namespace, name) -> dict | None``
    ``delete_unfinished_jobs(namespace, label_selector=None) -> [job names]``
                                             failed or still-running Jobs; succeeded ones stay
    ``wait_until_ready(namespace, *, should_stop, on_progress=None, poll_seconds=1.0,
    settle_seconds=0)``                      watch-driven; returns when every Deployment,
                                             StatefulSet and Job is ready/complete (and
                                             there is at least one)
    ``delete_namespace(name, *, should_stop=None, timeout=300)``
                                             waits until gone; NamespaceStuck on timeout
    ``server_dry_run(manifests, namespace)`` ClusterError when the server rejects one

``Helm(binary, kubeconfig, kube_context=None)``
    ``status(release, namespace) -> dict | None``
    ``history(release, namespace) -> [revision dicts]``
    ``list_releases(all_namespaces=True, namespace=None) -> [{name, namespace, status,
    revision, chart, ...}]``
    ``upgrade_install(release, chart_path, namespace, values, *, timeout_seconds,
    should_stop, values_files=()) -> {name, namespace, version, info, chart}``
                                             values_files come first, `values` last;
                                             rolls a stuck upgrade back to its last
                                             deployed revision, uninstalls a release that
                                             never deployed; no --wait (use wait_until_ready)
    ``uninstall(release, namespace, *, timeout_seconds=120) -> bool``
                                             False when there was no such release

Errors (all messages are safe to show; none contains secret data)
    ``ClusterError``            any failed operation
    ``ClusterUnavailable``      no kubeconfig, API server unreachable, credentials rejected
    ``WorkloadFailed``          the store can not become ready by itself. Messages:
        ``pod <name>: <ErrImagePull|ImagePullBackOff|CrashLoopBackOff|
        CreateContainerConfigError|InvalidImageName|CreateContainerError>: <message>``
        ``pod <name>: FailedScheduling: 0/2 nodes are available: ...``
        ``job <name> failed: <BackoffLimitExceeded|DeadlineExceeded|...>: <message>``
        ``quota exceeded: <API server message naming the quota and resources>``
        ``<replicaset|statefulset|job|deployment> <name>: FailedCreate: <message>``
        ``deployment <name>: ProgressDeadlineExceeded: <message>``
    ``NamespaceStuck``          ``namespace <name> is still terminating: <conditions,
                                finalizers>``
    ``Stopped``                 (not a ClusterError) ``should_stop()`` returned a
                                reason; ``.reason`` holds it
"""

from .cluster import Cluster, connect
from .errors import ClusterError, ClusterUnavailable, NamespaceStuck, Stopped, WorkloadFailed
from .guardrails import GuardrailSpec
from .helm import Helm

__all__ = [
    "Cluster",
    "ClusterError",
    "ClusterUnavailable",
    "GuardrailSpec",
    "Helm",
    "NamespaceStuck",
    "Stopped",
    "WorkloadFailed",
    "connect",
]
