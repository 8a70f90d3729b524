"""Publishing after a commit: the failure policy every domain's events share.

An event is published after the change it reports is committed. If publishing fails (Redis
down or slow) the change stands and the caller's request still succeeds: answering an error
would make the client retry a change that already happened. The failure is logged and the
event is lost; subscribers recover through history, `resync` and the REST API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from channels.broker import Broker
from channels.protocol import ServerMessage

log = logging.getLogger("streamhub.channels.publisher")


class Publisher:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def publish(self, channel: str, event: Mapping[str, Any] | BaseModel) -> bool:
        """Publish `event` on `channel`; False (and a log line) if it could not be published."""
        if isinstance(event, ServerMessage):
            message = event.wire()
        elif isinstance(event, BaseModel):
            message = event.model_dump(mode="json")
        else:
            message = dict(event)
        try:
            await self.broker.publish(channel, message)
        except Exception:
            log.exception(
                "event not published", extra={"channel": channel, "type": message.get("type")}
            )
            return False
        return True
