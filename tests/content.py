"""Helpers for the content tests (videos, views, likes, follows, comments, profiles)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from channels.broker import MemoryBroker
from channels.node import REALTIME
from server.app import DB
from server.http.auth import TOKENS
from storage.accounts import users

FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash"  # tokens are minted, never logged in


async def make_users(
    client: TestClient, n: int, *, role: str = "user", prefix: str = "u"
) -> list[tuple[users.User, dict[str, str]]]:
    """n accounts created in storage (no Argon2), each with an access-token header."""
    app = client.app
    tag = uuid.uuid4().hex[:6]

    async def one(i: int) -> tuple[users.User, dict[str, str]]:
        user = await users.create(
            app[DB],
            username=f"{prefix}{i}_{tag}",
            email=f"{prefix}{i}_{tag}@example.com",
            password_hash=FAKE_HASH,
            display_name=f"{prefix.upper()} {i}",
            avatar_url="/static/avatars/default.svg",
            role=role,
        )
        token = app[TOKENS].issue_access(user.claims())
        return user, {"Authorization": f"Bearer {token}"}

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def make_user(client: TestClient, *, role: str = "user") -> tuple[users.User, dict[str, str]]:
    return (await make_users(client, 1, role=role, prefix=role[:1]))[0]


async def create_video(
    client: TestClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    payload = {"title": "A video", "video_url": "https://cdn.example.com/v.mp4"} | fields
    resp = await client.post("/api/videos", json=payload, headers=headers)
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def events(client: TestClient, channel: str | None = None) -> list[dict[str, Any]]:
    """Events the app published (tests run the in-process broker), optionally of one channel."""
    broker = client.app[REALTIME].broker
    assert isinstance(broker, MemoryBroker), "content tests expect BROKER=memory"
    return [event for ch, event in broker.published if channel is None or ch == channel]


async def error_of(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    return error
