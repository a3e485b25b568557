"""The cluster layer: everything the product does to Kubernetes and Helm.

This package is the only place that imports the ``kubernetes`` client or runs
``helm``. It knows nothing about Django: settings (kubeconfig path, helm
binary, quota sizes) come in as arguments.

Connecting
    ``connect(kubeconfig=None, context=None, request_timeout=10) -> Kubernetes``
    Uses the given kubeconfig, else $KUBECONFIG, else the in-cluster service
    account, else ~/.kube/config. Raises ``ClusterUnavailable`` when none is
    usable. Every request carries a timeout, so a hung API server can not
    hang a worker.

What the product may ask
    The ``Kubernetes`` and ``Helm`` Protocols in ``interface.py``, one method
    each with its docstring: the only two names the product types against.
    ``KubernetesClient`` (the official client, through ``ApiGroups``, the typed
    API groups with their timeouts) and ``HelmCli`` implement them, and so do
    the unit tests' fakes; mypy checks all four against the Protocols.

``HelmCli(binary, kubeconfig, kube_context=None, *, command_timeout=60)``
    Runs the ``helm`` binary against the same kubeconfig; read-only commands
    are bounded by ``command_timeout``, changes by their own timeout.

Errors (all messages are safe to show; none contains secret data; each
carries a ``FailureCode`` in ``.code``, which alerts and counts read)
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

from .backup_jobs import JobOutcome
from .errors import ClusterError, ClusterUnavailable, Failure, FailureCode, NamespaceStuck, Stopped, WorkloadFailed
from .guardrails import BackupAccess, GuardrailSpec, add_quantities
from .helm import HelmCli
from .interface import Helm, Kubernetes
from .kubernetes import KubernetesClient, connect

__all__ = [
    "BackupAccess",
    "ClusterError",
    "ClusterUnavailable",
    "Failure",
    "FailureCode",
    "GuardrailSpec",
    "Helm",
    "HelmCli",
    "JobOutcome",
    "Kubernetes",
    "KubernetesClient",
    "NamespaceStuck",
    "Stopped",
    "WorkloadFailed",
    "add_quantities",
    "connect",
]
