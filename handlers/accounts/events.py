"""The accounts domain's channel kind: `user:{id}`, a user's private channel.

Other domains publish on it through `user_channel` (social: `new_follower`; later, upload
processing). Only that user may subscribe; a user's channel never changes hands, so access is
checked at `subscribe` only.
"""

from __future__ import annotations

import uuid

from channels.authz import Principal
from channels.kinds import ChannelKind, uuid_names
from channels.protocol import ErrorCode, ProtocolError

# Notice to every node that an account was erased, so that its sockets close.
ERASED_CHANNEL = "internal:accounts-erased"

# `user:{id}`: the one place the names of user channels are built and parsed.
CHANNELS = uuid_names("user")


def user_channel(user_id: uuid.UUID) -> str:
    return CHANNELS.name(user_id)


async def _only_that_user(user_id: uuid.UUID, principal: Principal | None) -> None:
    if principal is None:
        raise ProtocolError(ErrorCode.unauthorized, "Authenticate to subscribe to user:{id}")
    if principal.user_id != str(user_id):
        raise ProtocolError(ErrorCode.forbidden, "user:{id} is private to that user")


def channel_kind() -> ChannelKind[uuid.UUID]:
    """`user:{id}` for the realtime node."""
    return ChannelKind(CHANNELS, authorize=_only_that_user)
