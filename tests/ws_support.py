"""Helpers for the realtime suites: a node served over real TCP and a WebSocket test client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import pytest
import websockets
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.tokens import TokenService
from devservices.stack import Engines
from server.app import create_app
from tests.conftest import TEST_SECRET, Accounts, make_settings

RECV_TIMEOUT_S = 5.0


class WsClient:
    """A `websockets` connection that speaks JSON and never waits forever."""

    def __init__(self, conn: websockets.ClientConnection) -> None:
        self.conn = conn
        self.hello: dict[str, Any] = {}

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.conn.send(
            message if isinstance(message, str | bytes) else orjson.dumps(message).decode()
        )

    async def recv(self, seconds: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.recv(), seconds)
        message: dict[str, Any] = orjson.loads(raw)
        return message

    async def recv_type(self, kind: str, seconds: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        """The next message of type `kind`, skipping others."""
        async with asyncio.timeout(seconds):
            while True:
                message = await self.recv(seconds)
                if message["type"] == kind:
                    return message

    async def subscribe(self, channel: str, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "subscribe", "channel": channel, **fields})
        return await self.recv()

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.conn.recv(), seconds)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        await self.conn.close()


async def connect(
    url: str,
    *,
    token: str | None = None,
    query_token: bool = False,
    headers: dict[str, str] | None = None,
) -> WsClient:
    headers = dict(headers or {})
    if token and not query_token:
        headers["Authorization"] = f"Bearer {token}"
    if token and query_token:
        url = f"{url}?token={token}"
    conn = await websockets.connect(url, additional_headers=headers, max_size=2**22, open_timeout=5)
    client = WsClient(conn)
    client.hello = await client.recv()
    return client


@dataclass
class Hub:
    """A node under test: its app, base URLs, and an account helper."""

    app: web.Application
    server: TestServer
    accounts: Accounts
    database_url: str

    @property
    def ws_url(self) -> str:
        return str(self.server.make_url("/ws")).replace("http://", "ws://")

    async def connect(self, **kwargs: Any) -> WsClient:
        return await connect(self.ws_url, **kwargs)

    async def create_video(self, author_id: str, *, visibility: str = "public") -> str:
        conn = await asyncpg.connect(self.database_url)
        try:
            video_id: uuid.UUID = await conn.fetchval(
                """INSERT INTO videos
                     (author_id, title, visibility, processing_status, published_at)
                   VALUES ($1, 'clip', $2, 'ready', now()) RETURNING id""",
                uuid.UUID(author_id),
                visibility,
            )
        finally:
            await conn.close()
        return str(video_id)


async def start_hub(
    aiohttp_client: Any, engines: Engines, broker: str, **overrides: Any
) -> AsyncIterator[Hub]:
    settings = make_settings(engines, BROKER=broker, **overrides)
    client = await aiohttp_client(create_app(settings))
    yield Hub(
        client.app, client.server, Accounts(client, engines.database_url), engines.database_url
    )


@pytest.fixture(name="broker_name", params=["memory", "redis"])
def broker_name_fixture(request: pytest.FixtureRequest) -> str:
    """Every realtime suite runs against each broker."""
    return str(request.param)


@pytest.fixture(name="hub")
async def hub_fixture(
    broker_name: str, aiohttp_client: Any, engines: Engines
) -> AsyncIterator[Hub]:
    async for node in start_hub(aiohttp_client, engines, broker_name):
        yield node


def short_lived_token(settings: Any, user: dict[str, Any], seconds: float) -> str:
    """An access token for `user` that expires in `seconds` (the app's minimum is minutes)."""
    tokens = TokenService(
        secret=TEST_SECRET,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(seconds=seconds),
        refresh_ttl=timedelta(days=1),
    )
    return tokens.issue_access({**user, "role": user.get("role", "user")})
