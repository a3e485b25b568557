"""Template context every page gets."""

from django.conf import settings

from stores import preparation


def cluster_mode(request):
    """Whether the platform runs on the simulated local control plane (`make run`
    with no cluster to use): every page then says that stores' containers do not run."""
    return {"simulated_cluster": settings.CLUSTER_MODE == "simulated"}


def cluster_preparation(request):
    """The local cluster's preparation while `make run` builds and starts it, for the
    banner under the top bar; nothing once it is ready, or when nothing is prepared."""
    current = preparation.current()
    return {"cluster_preparation": current if current is not None and not current.is_ready else None}
