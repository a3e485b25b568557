"""The store engines this platform can provision, by key."""

from stores.engines.base import Credential, Engine, StoreSpec
from stores.engines.medusa import MEDUSA
from stores.engines.woocommerce import WOOCOMMERCE

ENGINES: dict[str, Engine] = {engine.key: engine for engine in (WOOCOMMERCE, MEDUSA)}
ENGINE_CHOICES = [(engine.key, engine.label) for engine in ENGINES.values()]

__all__ = ["ENGINES", "ENGINE_CHOICES", "Credential", "Engine", "StoreSpec", "get_engine", "refused_by_an_engine"]


def get_engine(key: str) -> Engine:
    return ENGINES[key]


def refused_by_an_engine(email: str) -> str | None:
    """Why one of the engines would refuse the address as its shop admin's e-mail; None when all take it."""
    for engine in ENGINES.values():
        reason = engine.refuses_email(email)
        if reason is not None:
            return f"{engine.label} cannot use this address for your shop's admin: {reason}."
    return None
