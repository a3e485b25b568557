"""A real SMTP server for tests (aiosmtpd), in a thread, that can ask for a login.

It stands in for the operator's relay: it keeps every message it accepts,
with its envelope, headers and the login it came with.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.platform import free_port


@dataclass
class ReceivedMessage:
    envelope_from: str
    recipients: list[str]
    login: str
    headers: dict[str, str]
    body: str = field(repr=False)


class _Handler:
    def __init__(self, server: SMTPServer):
        self.server = server

    async def handle_DATA(self, smtp_server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html")) if message.is_multipart() else message
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        self.server.messages.append(
            ReceivedMessage(
                envelope_from=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                login=login,
                headers={key: str(value) for key, value in message.items()},
                body=part.get_content() if part is not None else "",
            )
        )
        return "250 Message accepted for delivery"


class SMTPServer:
    """`with SMTPServer(logins={"user": "password"}) as smtp:` ... `smtp.messages`.

    With logins, a client must authenticate (over plain SMTP: this server has
    no certificate) before it may send; without, anyone may."""

    def __init__(self, logins: dict[str, str] | None = None, host: str = "127.0.0.1"):
        self.logins = logins or {}
        self.host = host
        self.port = free_port()
        self.messages: list[ReceivedMessage] = []
        self._controller = Controller(
            _Handler(self),
            hostname=host,
            port=self.port,
            authenticator=self._authenticate if self.logins else None,
            auth_required=bool(self.logins),
            auth_require_tls=False,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.logins.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def __enter__(self) -> SMTPServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
