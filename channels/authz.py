"""Who may read a channel: the principal a session holds, and the rule a kind's access follows.

A kind (channels/kinds.py) checks a principal at `subscribe`. A kind whose access can shrink
while a socket is subscribed (a resource turns private, or is deleted) declares an
`AccessRule`: the lookup of its current access, a test of a principal against it that needs no
I/O, and how the access reads from a control publication. After such a change the domain
publishes `access_event(...)` on the channel, and every node re-checks its local subscribers
against the access the event carries, synchronously (`AccessRule.allows`), before it delivers
the channel's next event (channels/hub.py, channels/node.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from channels.protocol import ACCESS_CHANGED, ErrorCode, ProtocolError

Id = TypeVar("Id")
Access = TypeVar("Access")


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in caller of a session (None everywhere for an anonymous one)."""

    user_id: str
    role: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessRule(Generic[Id, Access]):
    """Who may read a kind's channels now, re-checked whenever it may have shrunk.

    `lookup` reads the truth (None: the channel's resource does not exist); `allows` decides
    without I/O, and is given None for a resource that does not exist (it must refuse);
    `read` turns a control publication's fields into the access, and must fail closed
    (answer None for anything malformed). A refused subscribe is answered `denied`.
    """

    lookup: Callable[[Id], Awaitable[Access | None]]
    allows: Callable[[Access | None, Principal | None], bool]
    read: Callable[[Mapping[str, Any]], Access | None]
    denied: ErrorCode
    denied_message: str

    def refusal(self, **extra: Any) -> ProtocolError:
        return ProtocolError(self.denied, self.denied_message, **extra)

    def from_event(self, event: Mapping[str, Any]) -> Access | None:
        """The access an `access_event` carries (None: the resource is gone, or malformed)."""
        return None if event.get("deleted") else self.read(event)


def access_event(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The control publication telling every node who may now read a channel.

    `fields` describe the new access (the kind's `AccessRule.read` reads them back); None
    means the channel's resource was deleted. Hubs act on it and never send it to a client.
    """
    if fields is None:
        return {"type": ACCESS_CHANGED, "deleted": True}
    return {"type": ACCESS_CHANGED, **fields}
