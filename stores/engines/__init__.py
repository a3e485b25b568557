"""The store engines this platform can provision, by key."""

from stores.engines.base import Credential, Engine, StoreSpec
from stores.engines.medusa import MEDUSA
from stores.engines.woocommerce import WOOCOMMERCE

ENGINES: dict[str, Engine] = {engine.key: engine for engine in (WOOCOMMERCE, MEDUSA)}
ENGINE_CHOICES = [(engine.key, engine.label) for engine in ENGINES.values()]

__all__ = ["ENGINES", "ENGINE_CHOICES", "Credential", "Engine", "StoreSpec", "get_engine"]


def get_engine(key: str) -> Engine:
    return ENGINES[key]
