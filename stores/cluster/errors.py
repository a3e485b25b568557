"""Exceptions raised by the cluster layer.

Every ``ClusterError`` message is meant to be shown to the store owner or the
operator as-is, so messages are built from Kubernetes/Helm status text only and
never from Secret data or Helm values.
"""

from __future__ import annotations


class ClusterError(Exception):
    """A Kubernetes or Helm operation failed; the message is human-readable."""


class ClusterUnavailable(ClusterError):
    """No usable kubeconfig, the API server is unreachable, or auth failed."""


class WorkloadFailed(ClusterError):
    """A workload in the store namespace can not become ready without help.

    The message names the object and the real reason, e.g.
    ``pod web-abc: ErrImagePull: <message>`` or
    ``job store-acme-setup failed: BackoffLimitExceeded: <message>``.
    """


class NamespaceStuck(ClusterError):
    """Namespace deletion did not finish in time; the message lists what is left."""


class Stopped(Exception):
    """The caller's ``should_stop()`` asked us to give up.

    Deliberately not a ``ClusterError``: stopping is the caller's decision,
    not a cluster failure, and callers usually handle it differently.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
