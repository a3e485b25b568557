"""The shop admin login, read from the store's own Secret on demand and never stored here."""

from __future__ import annotations

from stores import clients, cluster
from stores.engines import get_engine
from stores.engines.contract import SECRET_NAME
from stores.models import Store


class CredentialsUnavailable(Exception):
    pass


def credentials_for(store: Store) -> list[tuple[str, str, bool]]:
    """(label, value, is_secret) read from the store's secret, never stored here.

    Runs on the request path, so it uses a short timeout.
    """
    engine = get_engine(store.engine)
    try:
        data = clients.connect(request_timeout=5).read_secret(store.namespace, SECRET_NAME)
    except cluster.ClusterError as exc:
        raise CredentialsUnavailable(str(exc)) from exc
    if not data:
        raise CredentialsUnavailable(f"the secret {SECRET_NAME} is not in {store.namespace}")
    return [(c.label, data.get(c.key, ""), c.secret) for c in engine.credentials]
