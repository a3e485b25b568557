"""The store engines this platform can provision, by key."""

from stores.engines.base import Blueprint, Credential, StoreSpec
from stores.engines.medusa import MEDUSA
from stores.engines.woocommerce import WOOCOMMERCE

ENGINES: dict[str, Blueprint] = {bp.key: bp for bp in (WOOCOMMERCE, MEDUSA)}
ENGINE_CHOICES = [(bp.key, bp.label) for bp in ENGINES.values()]

__all__ = ["ENGINES", "ENGINE_CHOICES", "Blueprint", "Credential", "StoreSpec", "get_engine"]


def get_engine(key: str) -> Blueprint:
    return ENGINES[key]
