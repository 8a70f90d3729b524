"""The SMTP transport against a real server that requires STARTTLS and a password."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devservices.ports import free_port
from handlers.mail.service import Letter, MailService
from handlers.mail.transport import SmtpTransport
from tests.mail_support import Inbox

USER, PASSWORD = "mailer", "s3cret"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class _Server:
    def __init__(self, ca: trustme.CA, *, starttls: bool) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)

        def authenticate(
            _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                USER.encode(),
                PASSWORD.encode(),
            )
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context if starttls else None,
            require_starttls=starttls,
            authenticator=authenticate,
            auth_require_tls=starttls,
        )


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[_Server]:
    server = _Server(ca, starttls=True)
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def plain_server(ca: trustme.CA) -> Iterator[_Server]:
    server = _Server(ca, starttls=False)
    server.controller.start()
    yield server
    server.controller.stop()


def _transport(server: _Server, ca: trustme.CA, **options: Any) -> SmtpTransport:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "password": PASSWORD,
        "security": "always",
        "timeout_s": 10,
        "tls_context": context,
    }
    return SmtpTransport(**(settings | options))


def _letter() -> Letter:
    return Letter(
        template="password_reset",
        to="pat@example.com",
        message_id="m1",
        values={
            "name": "Pat",
            "email": "pat@example.com",
            "link": "https://x/?token=t",
            "expires_at": "soon",
        },
    )


async def test_starttls_and_login(tls_server: _Server, ca: trustme.CA) -> None:
    mail = MailService(transport=_transport(tls_server, ca), sender="Courses <no-reply@x.example>")
    assert await mail.send(_letter()) is True
    [message] = tls_server.inbox.to("pat@example.com")
    assert message["Subject"] == "Reset your password"
    assert message["Message-ID"] == "<m1@streamhub>"


async def test_auto_upgrades_when_offered(tls_server: _Server, ca: trustme.CA) -> None:
    # The server refuses mail before STARTTLS, so a delivery proves the upgrade.
    message = MailService(transport=_transport(tls_server, ca), sender="a@x.example").compose(
        _letter()
    )
    await _transport(tls_server, ca, security="auto").send(message)
    assert len(tls_server.inbox.to("pat@example.com")) == 1


async def test_always_refuses_a_server_without_starttls(
    plain_server: _Server, ca: trustme.CA
) -> None:
    transport = _transport(plain_server, ca, username=None, password=None)
    message = EmailMessage()
    message["To"], message["From"], message["Subject"] = "pat@example.com", "a@x.example", "x"
    with pytest.raises(aiosmtplib.SMTPException):
        await transport.send(message)
    assert plain_server.inbox.messages == []  # nothing sent in the clear


async def test_wrong_password_is_an_error_to_retry(tls_server: _Server, ca: trustme.CA) -> None:
    transport = _transport(tls_server, ca, password="wrong")
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await MailService(transport=transport, sender="a@x.example").send(_letter())
