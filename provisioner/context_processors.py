"""Template context every page gets."""

from django.conf import settings


def cluster_mode(request):
    """Whether the platform runs on the simulated local control plane (`make run`
    with no cluster to use): every page then says that stores' containers do not run."""
    return {"simulated_cluster": settings.CLUSTER_MODE == "simulated"}
