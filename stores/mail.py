"""Mail from the stores: the SMTP relay the platform hands every store (STORE_MAIL_*).

Stores cannot send mail by themselves (the official WordPress image has no
mail transfer agent; Medusa has no notification provider by default), and an
open port 25 from rented shops is a spam source. So the operator sets one
relay, with a submission port and credentials, and the platform puts it in
each store's namespace as the Secret `MAIL_SECRET_NAME`, replaced on every
provision and upgrade (so a changed password reaches every store) and removed
when mail is turned off. Each engine's chart reads it (`mail.existingSecret`).

This module is plain Python (the settings parse through it): no Django models.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAIL_SECRET_NAME = "store-mail"  # noqa: S105 (a name, not a password)

# STORE_MAIL_SECURITY: how the connection to the relay is protected.
#   starttls  plain connect, then STARTTLS (submission, port 587)
#   tls       TLS from the first byte (submissions, port 465)
#   none      no TLS: a relay inside the cluster or on a private network only
SECURITY_MODES = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}

# A hostname or an address; no scheme, no port (those are settings of their own).
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
# local@domain once {slug} is filled in: the slug is a DNS label (letters, digits, hyphens).
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


class MailSettingsError(ValueError):
    """STORE_MAIL_* settings that cannot work; the message names the setting."""


@dataclass(frozen=True)
class StoreMail:
    host: str
    port: int
    security: str
    from_pattern: str  # "shop-{slug}@example.com"
    user: str = ""
    password: str = field(default="", repr=False)

    def sender(self, slug: str) -> str:
        return self.from_pattern.replace("{slug}", slug)

    def secret_data(self, slug: str) -> dict[str, str]:
        """The keys of a store's mail Secret; every engine's chart reads these names."""
        return {
            "host": self.host,
            "port": str(self.port),
            "security": self.security,
            "username": self.user,
            "password": self.password,
            "from": self.sender(slug),
        }

    def revision(self, slug: str) -> str:
        """A digest of the store's mail settings, for a pod annotation: pods read
        the Secret at start, so a change must roll them. One-way, so the
        password is not readable from it."""
        data = self.secret_data(slug)
        digest = hashlib.sha256("\n".join(f"{key}={data[key]}" for key in sorted(data)).encode())
        return digest.hexdigest()[:16]


def parse_store_mail(
    *, host: str, port: str, security: str, from_pattern: str, user: str, password: str
) -> StoreMail | None:
    """The relay from its settings, or None when STORE_MAIL_HOST is empty (mail off).

    Raises MailSettingsError for settings that would fail at the first mail."""
    host = host.strip()
    if not host:
        return None
    if not _HOST.match(host):
        raise MailSettingsError(f"STORE_MAIL_HOST: {host!r} is not a hostname or an address (no scheme, no port)")
    security = security.strip().lower() or "starttls"
    if security not in SECURITY_MODES:
        raise MailSettingsError(f"STORE_MAIL_SECURITY must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
    port = port.strip() or str(DEFAULT_PORTS[security])
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise MailSettingsError(f"STORE_MAIL_PORT: {port!r} is not a port number (1-65535)")
    from_pattern = from_pattern.strip()
    if not from_pattern:
        raise MailSettingsError(
            "STORE_MAIL_FROM is required with STORE_MAIL_HOST: the address stores send from, "
            "e.g. shop-{slug}@example.com ({slug} is the store's name)"
        )
    filled = from_pattern.replace("{slug}", "store")
    if "{" in filled or "}" in filled or not _ADDRESS.match(filled):
        raise MailSettingsError(
            f"STORE_MAIL_FROM: {from_pattern!r} is not an address like shop-{{slug}}@example.com "
            "({slug} is the only placeholder)"
        )
    if password and not user:
        raise MailSettingsError("STORE_MAIL_PASSWORD is set but STORE_MAIL_USER is not")
    return StoreMail(
        host=host, port=int(port), security=security, from_pattern=from_pattern, user=user.strip(), password=password
    )


def describe(relay: StoreMail | None, engine_label: str, sends_mail: bool, slug: str) -> tuple[bool, str]:
    """Whether a store sends mail, and the line its page shows about it."""
    if relay is None:
        return False, "The platform has no mail relay, so the shop sends no order or account mail."
    if not sends_mail:
        return False, f"{engine_label} stores do not send mail through the relay yet."
    return True, f"Sent as {relay.sender(slug)} through {relay.host}."
