"""Where mail goes: an SMTP server (aiosmtplib), or .eml files in a folder when none is set.

A transport either hands the message on or raises: `Undeliverable` when the server refused it
for good (a 5xx answer: retrying cannot help), anything else when a later attempt may succeed
(the job runner retries those with backoff).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

log = logging.getLogger("streamhub.mail")

Security = Literal["auto", "always", "never", "tls"]


class Undeliverable(Exception):
    """The server refused the message permanently."""


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> str:
        """Deliver `message`; return where it went, for the log."""
        ...


class SmtpTransport:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        security: Security,
        timeout_s: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security = security
        self.timeout_s = timeout_s
        self.tls_context = tls_context

    async def send(self, message: EmailMessage) -> str:
        start_tls = {"auto": None, "always": True, "never": False, "tls": False}[self.security]
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                use_tls=self.security == "tls",
                start_tls=start_tls,
                tls_context=self.tls_context,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(refusal.code >= 500 for refusal in exc.recipients):
                raise Undeliverable(f"recipients refused: {exc.recipients}") from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                raise Undeliverable(f"{exc.code} {exc.message}") from exc
            raise
        return f"smtp://{self.host}:{self.port}"


class DirectoryTransport:
    """Development without a mail server: each message becomes `<dir>/<time>-<id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> str:
        return await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        message_id = (message["Message-ID"] or "").strip("<>").split("@")[0] or "message"
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{message_id}.eml"
        path = self.directory / name
        # Written whole then renamed: a reader never sees half a message.
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, path)
        log.info("mail written to a file (SMTP_HOST is not set)", extra={"path": str(path)})
        return str(path)
