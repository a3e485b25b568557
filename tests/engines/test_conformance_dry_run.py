"""The engine contract against a real API server (the local control plane).

Every object each engine's chart renders, the platform's backup and restore Jobs
for its stores (stores/backups/jobs.py), and a Pod built from each pod template,
goes through a server-side dry run with strict field validation, in a namespace
labelled and guarded as a store of that engine is: the platform's own namespace
labels (Pod Security `baseline` enforced, `restricted` warned of) and the
guardrails of `isolation.guardrail_spec(engine)` (LimitRange, ResourceQuota,
NetworkPolicies), made through the platform's cluster layer. The API server's
admission must take everything and warn of nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from stores.cluster import connect
from tests.engines.support import backup_jobs, case_params, dry_run, make_store_namespace, name_of, probe_pods

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kube(local_cluster):
    return connect(kubeconfig=str(local_cluster.kubeconfig))


@pytest.fixture(scope="module")
def namespace_of(kube):
    """One store namespace per engine, made when first asked for; deleted side by side at the end
    (each deletion waits several seconds for the namespace controller)."""
    made: dict[str, str] = {}

    def namespace(engine) -> str:
        if engine.key not in made:
            made[engine.key] = make_store_namespace(kube, engine)
        return made[engine.key]

    yield namespace
    with ThreadPoolExecutor() as pool:
        list(pool.map(lambda name: kube.delete_namespace(name, timeout=120), made.values()))


@pytest.mark.parametrize(("engine", "profile"), case_params())
def test_a_store_namespace_admits_every_object_without_a_warning(charts, kube, namespace_of, engine, profile):
    namespace = namespace_of(engine)
    # The chart's objects, and the platform's backup and restore Jobs made from them.
    objects = charts.render(engine, profile)
    objects += backup_jobs(engine, objects)
    warnings = {}
    for obj in objects + probe_pods(objects):
        found = dry_run(kube, obj, namespace)
        if found:
            warnings[name_of(obj)] = found
    # `restricted` is warned of, not enforced: a chart should not even draw the warning.
    assert warnings == {}
