"""MedusaJS v2: listed so owners see it coming; its chart is not in charts/ yet."""

from stores.engines.base import Blueprint, Credential, StoreSpec, generate_password


def _values(spec: StoreSpec) -> dict:
    return {"store": {"host": spec.host, "url": spec.url}, "ingress": {"className": spec.ingress_class}}


def _secret(spec: StoreSpec) -> dict[str, str]:
    return {"admin-email": spec.owner_email, "admin-password": generate_password()}


MEDUSA = Blueprint(
    key="medusa",
    label="MedusaJS",
    description="Medusa v2 with Postgres and Redis.",
    chart="medusa",
    build_values=_values,
    build_secret=_secret,
    admin_path="/app/",
    credentials=(Credential("Admin e-mail", "admin-email"), Credential("Admin password", "admin-password", secret=True)),
    available=False,
    unavailable_reason="MedusaJS stores are not available yet; choose WooCommerce.",
)
