"""Exceptions raised by the cluster layer.

Every ``ClusterError`` message is meant to be shown to the store owner or the
operator as-is, so messages are built from Kubernetes/Helm status text only and
never from Secret data or Helm values.
"""

from __future__ import annotations

from enum import StrEnum


class FailureCode(StrEnum):
    """Why a store could not become ready, as a code that alerts, counts and hints
    read (a message is for people and may be reworded; a code is not).

    Set where the failure is recognised: the diagnosis of a namespace, Helm's
    and the API server's answers, and the provisioning steps above."""

    QUOTA = "quota"  # the namespace's ResourceQuota refused a pod or claim
    ADMISSION = "admission"  # a LimitRange or Pod Security refused a pod
    IMAGE = "image"  # an image that cannot be pulled or is misnamed
    OOM = "oom"  # a container killed at its memory limit
    CRASH = "crash"  # a container that keeps crashing
    CONTAINER = "container"  # a container that cannot be created (its config, a missing secret key)
    SCHEDULING = "scheduling"  # no node can take a pod
    SETUP = "setup"  # the setup Job failed
    ROLLOUT = "rollout"  # a Deployment that stopped progressing
    CLUSTER = "cluster"  # no usable kubeconfig, or the API server does not answer
    HELM = "helm"  # helm failed
    NAMESPACE = "namespace_state"  # a namespace that is terminating, missing, or will not go
    CONFLICT = "conflict"  # the store's namespace belongs to something else
    DNS = "dns"  # the store's host does not resolve
    CHECKOUT = "checkout_failed"  # the store answers but a shopper cannot buy (stores/checkout.py)
    TIMEOUT = "timeout"  # PROVISION_TIMEOUT ran out
    UNAVAILABLE = "unavailable"  # the engine is not offered here
    INTERNAL = "internal"  # a bug
    OTHER = "other"


class ClusterError(Exception):
    """A Kubernetes or Helm operation failed; the message is human-readable, `code` says why."""

    default_code = FailureCode.OTHER

    def __init__(self, message: str = "", code: FailureCode | None = None):
        super().__init__(message)
        self.code = code or self.default_code


class ClusterUnavailable(ClusterError):
    """No usable kubeconfig, the API server is unreachable, or auth failed."""

    default_code = FailureCode.CLUSTER


class WorkloadFailed(ClusterError):
    """A workload in the store namespace can not become ready without help.

    The message names the object and the real reason, e.g.
    ``pod web-abc: ErrImagePull: <message>`` or
    ``job store-acme-setup failed: BackoffLimitExceeded: <message>``.
    """


class NamespaceStuck(ClusterError):
    """Namespace deletion did not finish in time; the message lists what is left."""

    default_code = FailureCode.NAMESPACE


class Failure(str):
    """A diagnosis: the message people read, with the code it was classified as."""

    code: FailureCode

    def __new__(cls, message: str, code: FailureCode) -> Failure:
        failure = super().__new__(cls, message)
        failure.code = code
        return failure


class Stopped(Exception):
    """The caller's ``should_stop()`` asked us to give up.

    Deliberately not a ``ClusterError``: stopping is the caller's decision,
    not a cluster failure, and callers usually handle it differently.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
