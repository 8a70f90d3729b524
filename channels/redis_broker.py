"""The Redis broker: pub/sub for live delivery, a capped stream per channel for history.

One node holds one PubSub connection. The hub calls `subscribe` on a channel's first local
subscriber and `unsubscribe` on its last, so Redis sees one subscription per channel per node
however many sockets listen.

A publication is one Lua script: XADD to `history:{channel}` (capped with MAXLEN ~) and
PUBLISH `<offset>\\n<payload>` on `ch:{channel}`. Both happen atomically in Redis's single
thread, so offsets (stream ids) increase in publish order on every node.

Failure policy: if the PubSub connection drops, redis-py reconnects and re-subscribes on the
next read; publications made meanwhile are not delivered live (at most once) but remain in
history. Redis confirms the node-private channel once per connection, so a second confirmation
means a new connection: the gap listener is told then, before the first publication that
follows (all channels are re-subscribed by one SUBSCRIBE), and subscribers recover from
history with their last offset.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from channels.broker import Broker, Replay, replay_after
from channels.redis_client import command_client

log = logging.getLogger("streamhub.channels.redis")

_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'p', ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('PUBLISH', ARGV[4], id .. '\\n' .. ARGV[1])
return id
"""

# A subscription Redis has not confirmed within this time is an error, not a silent wait.
SUBSCRIBE_TIMEOUT_S = 5.0
RECONNECT_BACKOFF_S = 0.5


def pubsub_channel(channel: str) -> str:
    return f"ch:{channel}"


def history_key(channel: str) -> str:
    return f"history:{channel}"


class RedisBroker(Broker):
    def __init__(
        self,
        url: str,
        *,
        history_size: int = 1000,
        history_ttl_s: int = 3600,
        timeout_s: float | None = None,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._history_size = history_size
        self._history_ttl_s = history_ttl_s
        self._node_channel = f"node:{uuid.uuid4().hex}"
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connections = 0  # confirmations of the node channel: PubSub connections made

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "RedisBroker.start() was not awaited"
        return self._redis

    async def start(self) -> None:
        # Publishing and history reads answer within timeout_s; the pub/sub listener reads
        # without a deadline, however long the node's channels stay quiet.
        self._redis = command_client(self._url, timeout_s=self._timeout_s)
        self._script = self._redis.register_script(_PUBLISH)
        self._pubsub = self._redis.pubsub()
        # A node-private channel keeps the PubSub connection subscribed (and readable)
        # even while no socket listens to anything.
        await self._pubsub.subscribe(self._node_channel)
        self._reader = asyncio.create_task(self._read_loop(), name="redis-broker-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def publish_bytes(self, channel: str, payload: bytes) -> str:
        offset = await self._script(
            keys=[history_key(channel)],
            args=[payload, self._history_size, self._history_ttl_s, pubsub_channel(channel)],
        )
        return offset.decode() if isinstance(offset, bytes) else str(offset)

    async def subscribe(self, channel: str) -> None:
        assert self._pubsub is not None
        name = pubsub_channel(channel)
        confirmed = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append(confirmed)
        await self._pubsub.subscribe(name)
        await asyncio.wait_for(confirmed, SUBSCRIBE_TIMEOUT_S)

    async def unsubscribe(self, channel: str) -> None:
        assert self._pubsub is not None
        await self._pubsub.unsubscribe(pubsub_channel(channel))

    async def history(self, channel: str, since: str | None) -> Replay:
        key = history_key(channel)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrevrange(key, count=1)
            if since is not None:
                pipe.xrange(key, min=since)
            results = await pipe.execute()
        newest = results[0]
        top = newest[0][0].decode() if newest else None
        if since is None:
            return Replay([], True, top)
        entries = [(entry_id.decode(), fields[b"p"]) for entry_id, fields in results[1]]
        return replay_after(entries, since, top)

    async def _read_loop(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("pubsub read failed; reconnecting", extra={"error": repr(exc)})
                await asyncio.sleep(RECONNECT_BACKOFF_S)
                continue
            if message is None:
                continue
            try:
                self._dispatch(message)
            except Exception:  # one bad publication must not stop delivery of the others
                log.exception("dispatching a publication failed")

    def _dispatch(self, message: dict[str, object]) -> None:
        kind = message["type"]
        name = message["channel"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        if kind == "message":
            data = message["data"]
            assert isinstance(data, bytes)
            offset, _, payload = data.partition(b"\n")
            if self._listener is not None:
                self._listener(name.removeprefix("ch:"), offset.decode(), payload)
        elif kind == "subscribe":
            if name == self._node_channel:
                self._connections += 1
                if self._connections > 1 and self._on_gap is not None:
                    log.warning("pubsub reconnected; subscribers are told to resync")
                    self._on_gap()
            for waiter in self._waiters.pop(name, ()):
                if not waiter.done():
                    waiter.set_result(None)
