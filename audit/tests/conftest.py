# The stores app's fixtures: the fake cluster at the cluster layer's boundary,
# in-process task runs and a cold cluster-read cache for every test; and the
# browser tests' Chromium.
from stores.tests.conftest import fake_cluster, fresh_cache, sync_tasks, workers  # noqa: F401
from tests.conftest import chromium  # noqa: F401
