"""A real SMTP server in the test process (aiosmtpd), keeping what it receives.

It listens on a free loopback port in its own thread (aiosmtpd's Controller); tests read the
delivered messages as parsed `EmailMessage`s. `refusing` makes it answer 421 (service not
available) to every message for a while, as a mail server in trouble does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from devservices.ports import free_port
from tests import waiting

LINK = re.compile(r"https?://\S+?[?&]token=([A-Za-z0-9_-]+)")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused = 0
        self.refuse = False
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self._lock:
            if self.refuse:
                self.refused += 1
                return "421 Service not available, try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    async def wait_for(self, address: str, count: int = 1) -> list[EmailMessage]:
        """The first `count` messages to `address`, once they have arrived."""

        async def arrived() -> bool:
            return len(self.to(address)) >= count

        await waiting.wait_for(arrived, message=f"{count} messages to {address}")
        return self.to(address)[:count]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def token_in(message: EmailMessage) -> str:
    """The token of the link in a message's plain text (the HTML part carries the same)."""
    found = LINK.search(text_of(message))
    assert found, text_of(message)
    html = message.get_body(preferencelist=("html",))
    assert html is not None and found.group(1) in str(html.get_content())
    return found.group(1)


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def running_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
