"""Mail: messages rendered from the templates beside this module and handed to a transport.

Other domains compose and send from their own durable jobs (the job runner retries a failed
delivery with backoff), so an SMTP outage delays mail and loses none. Each message carries a
Message-ID fixed by its caller: a delivery retried after the server took it but before the job
was marked done arrives twice with one id, which mail clients show once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formatdate
from pathlib import Path
from typing import Any

import jinja2

from handlers.mail.transport import Transport, Undeliverable

log = logging.getLogger("streamhub.mail")

TEMPLATES = Path(__file__).parent / "templates"

SUBJECTS = {
    "verify_email": "Confirm your email address",
    "password_reset": "Reset your password",
}


@dataclass(frozen=True, slots=True)
class Letter:
    """One message to send: a template of SUBJECTS, its recipient and its values."""

    template: str
    to: str
    message_id: str
    values: dict[str, Any]


class MailService:
    def __init__(self, *, transport: Transport, sender: str, domain: str = "streamhub") -> None:
        self.transport = transport
        self.sender = sender
        self.domain = domain
        self._text = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._html = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def compose(self, letter: Letter) -> EmailMessage:
        values = dict(letter.values)
        expires_at = values.get("expires_at")
        if expires_at is not None and not isinstance(expires_at, str):
            values["expires_at"] = format_datetime(expires_at)
        message = EmailMessage()
        message["Subject"] = SUBJECTS[letter.template]
        message["From"] = self.sender
        message["To"] = letter.to
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{letter.message_id}@{self.domain}>"
        message.set_content(self._text.get_template(f"{letter.template}.txt").render(values))
        message.add_alternative(
            self._html.get_template(f"{letter.template}.html").render(values), subtype="html"
        )
        return message

    async def send(self, letter: Letter) -> bool:
        """Deliver `letter`. False when the server refused it for good (logged; retrying
        cannot help); any other failure raises, for the caller's job to be retried."""
        message = self.compose(letter)
        extra = {"template": letter.template, "message_id": letter.message_id}
        try:
            where = await self.transport.send(message)
        except Undeliverable as exc:
            log.error("mail refused permanently", extra={**extra, "reason": str(exc)})
            return False
        log.info("mail sent", extra={**extra, "via": where})
        return True
