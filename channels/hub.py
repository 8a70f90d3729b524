"""The hub: this node's channel -> sockets map and the fan-out fast path.

Fan-out encodes a publication once per channel (once per distinct `events` filter, normally
one) into final WebSocket frame bytes and writes those bytes straight to each socket's
transport: nothing is awaited per socket. Each socket is bounded by its unsent bytes: one past
`max_pending_bytes` is detached at once and closed with 4008 (slow consumer), so a client
that stops reading never slows the others and never grows the node's memory without bound.

Frames are queued in an outbox and written once per turn of the event loop, one `send()`
per socket (channels/outbox.py). Anything else written to a socket (replies, replays) or any
change of membership flushes first, so every socket still sees its frames in order and exactly
the events published while it was subscribed.

Upstream, the hub asks the broker for a channel on its first local subscriber and releases it
after its last, through one ordered queue so a quick unsubscribe/subscribe pair reaches the
broker in the order it happened.

What a channel's events are is its kind's business (channels/kinds.py): the hub asks the kind
which event types it coalesces and which fields an `events` filter selects, and names none.

Revocation: an access-changed control publication (channels/authz.py) is never fanned out. The
hub hands it to `on_access` synchronously, inside `deliver`, and that listener `revoke`s the
subscriptions no longer allowed; so a revoked socket gets no publication that comes after the
control one in the channel's order (it does get those before it, already queued or not).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from channels.broker import Broker, Replay
from channels.coalescer import Coalescer
from channels.frames import filtered_frame, message_frame, replay_frames
from channels.kinds import ChannelKinds, Selection
from channels.outbox import Outbox
from channels.protocol import (
    ACCESS_CHANGED,
    CloseCode,
    Resync,
    ServerMessage,
    Subscribed,
    Unsubscribed,
    offset_key,
)
from channels.stats import HubStats
from channels.subscriptions import ChannelState, Connection, Subscription

log = logging.getLogger("streamhub.channels.hub")


def _type(event: dict[str, Any]) -> str | None:
    event_type = event.get("type")
    return event_type if isinstance(event_type, str) else None


CountListener = Callable[[str, int], None]
AccessListener = Callable[[str, dict[str, Any]], None]  # (channel, the control event)
# What a subscribe saw of a channel before its authorization check (see `Hub.access_mark`).
AccessMark = tuple[ChannelState, int] | None


class Hub:
    def __init__(
        self,
        broker: Broker,
        *,
        max_pending_bytes: int,
        coalesce_hz: float,
        kinds: ChannelKinds | None = None,
        on_count: CountListener | None = None,
        on_access: AccessListener | None = None,
        on_gap: Callable[[], None] | None = None,
    ) -> None:
        self._broker = broker
        self._max_pending = max_pending_bytes
        self._coalesce_hz = coalesce_hz
        self._kinds = kinds if kinds is not None else ChannelKinds()
        self._on_count = on_count
        self._on_access = on_access
        self._on_gap = on_gap
        self._channels: dict[str, ChannelState] = {}
        self._upstream: asyncio.Queue[tuple[bool, str, asyncio.Future[None] | None]] = (
            asyncio.Queue()
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker: asyncio.Task[None] | None = None
        self.stats = HubStats()  # read by server/metrics.py at scrape time
        self._outbox = Outbox(
            max_pending_bytes=max_pending_bytes,
            stats=self.stats,
            on_slow=lambda conn: self.kick(conn, CloseCode.slow_consumer, "slow consumer"),
        )
        broker.set_listener(self.deliver, on_gap=self.missed)

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._worker = asyncio.create_task(self._upstream_worker(), name="hub-upstream")

    async def stop(self) -> None:
        for task in [self._worker, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *[t for t in [self._worker, *self._tasks] if t], return_exceptions=True
        )
        for state in self._channels.values():
            if state.coalescer is not None:
                state.coalescer.close()

    def local_count(self, channel: str) -> int:
        state = self._channels.get(channel)
        return state.size if state else 0

    def channel_counts(self) -> dict[str, int]:
        return {name: state.size for name, state in self._channels.items()}

    # --- subscriptions -----------------------------------------------------------------

    def access_mark(self, channel: str) -> AccessMark:
        """Take before an authorization check and pass to `subscribe` as `checked`."""
        state = self._channels.get(channel)
        if state is None or not state.ready.done():
            return None
        return (state, state.access_epoch)

    async def subscribe(
        self,
        conn: Connection,
        channel: str,
        selection: Selection,
        since: str | None,
        msg_id: Any,
        *,
        checked: AccessMark = None,
        recheck: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Subscribe, then send the ack, the replay after `since` and buffered live frames.

        The caller's authorization check may have read access before a change this node
        never saw (the channel was not live here) or saw before this socket was registered;
        `checked` tells which, and then `recheck` runs once upstream is live, when any later
        change is bound to reach this subscription. False: revoked or closed meanwhile.
        """
        state = self._channels.get(channel) or self._open(channel)
        stale = checked is None or checked != (state, state.access_epoch)
        sub = Subscription(conn, channel, selection)
        conn.subscriptions[channel] = sub
        state.catching_up[conn] = sub
        self._count(state, +1)
        try:
            await asyncio.shield(state.ready)
            if stale and recheck is not None:
                await recheck()
            replay = await self._broker.history(channel, since)
        except BaseException:
            if conn.subscriptions.get(channel) is sub:
                self._detach(sub)
            raise
        if conn.closing or conn.subscriptions.get(channel) is not sub:
            return False  # revoked or closed while the history was read
        self._catch_up(state, sub, replay, since, msg_id)
        return True

    def subscribers(self, channel: str) -> list[Connection]:
        """This node's sockets subscribed to `channel`, caught up or not."""
        state = self._channels.get(channel)
        if state is None:
            return []
        return [*(c for group in state.groups.values() for c in group), *state.catching_up]

    def revoke(self, conn: Connection, channel: str) -> None:
        """End a subscription its socket may no longer hold; the socket stays open.

        A caught-up subscriber is told (`unsubscribed`, reason `access_revoked`); a subscribe
        still catching up is answered by its session instead (`subscribe` returns False).
        """
        sub = conn.subscriptions.get(channel)
        if sub is None:
            return
        caught_up = sub.buffer is None
        self._detach(sub)
        if caught_up:
            self.send(conn, Unsubscribed(channel=channel, reason="access_revoked"))

    def unsubscribe(self, conn: Connection, channel: str) -> bool:
        sub = conn.subscriptions.get(channel)
        if sub is None:
            return False
        self._detach(sub)
        return True

    def remove(self, conn: Connection) -> None:
        """Forget a connection that is gone (or going): every subscription is released."""
        for sub in list(conn.subscriptions.values()):
            self._detach(sub)

    def _open(self, channel: str) -> ChannelState:
        ready = asyncio.get_running_loop().create_future()
        kind = self._kinds.of(channel)
        state = self._channels[channel] = ChannelState(channel, ready, kind)
        if self._coalesce_hz > 0 and kind is not None and kind.coalesce:
            state.coalescer = Coalescer(
                lambda offset, event: self._fanout(state, offset, event), hz=self._coalesce_hz
            )
        self._upstream.put_nowait((True, channel, ready))
        return state

    def _detach(self, sub: Subscription) -> None:
        if self._outbox.pending:  # events published while it was subscribed are its to read
            self.flush()
        conn = sub.conn
        del conn.subscriptions[sub.channel]
        state = self._channels.get(sub.channel)
        if state is None:
            return
        if state.catching_up.pop(conn, None) is None:
            group = state.groups.get(sub.selection)
            if group is not None and group.pop(conn, 0) is None and not group:
                del state.groups[sub.selection]
        self._count(state, -1)
        if state.size == 0:
            del self._channels[sub.channel]
            if state.coalescer is not None:
                state.coalescer.close()
            self._upstream.put_nowait((False, sub.channel, None))

    def _count(self, state: ChannelState, delta: int) -> None:
        state.size += delta
        if self._on_count is not None:
            self._on_count(state.name, state.size)

    def _catch_up(
        self, state: ChannelState, sub: Subscription, replay: Replay, since: str | None, msg_id: Any
    ) -> None:
        conn = sub.conn
        gap = since is not None and not replay.complete
        # `last` is where the client stands once it has read what follows the ack.
        if since is None or gap:
            last = replay.top
        else:
            last = replay.entries[-1][0] if replay.entries else since
        if last is not None and (state.last is None or offset_key(last) > offset_key(state.last)):
            state.last = last
        recovered = since is not None and not gap
        self.send(
            conn,
            Subscribed(channel=sub.channel, offset=last, recovered=recovered, id=msg_id),
        )
        if gap:
            self.send(conn, Resync(channel=sub.channel, offset=last, reason="history_trimmed"))
        entries = [] if gap else replay.entries
        for replayed in replay_frames(state.name, state.kind, entries, sub.selection):
            self._write(conn, replayed)
        seen = offset_key(last) if last is not None else (-1, -1)
        for at, frame in sub.buffer or ():
            if frame is not None and (at is None or offset_key(at) > seen):
                self._write(conn, frame)
        sub.buffer = None
        del state.catching_up[conn]
        state.groups.setdefault(sub.selection, {})[conn] = None

    async def _upstream_worker(self) -> None:
        while True:
            subscribe, channel, ready = await self._upstream.get()
            try:
                if subscribe:
                    await self._broker.subscribe(channel)
                else:
                    await self._broker.unsubscribe(channel)
            except Exception as exc:
                log.warning(
                    "upstream %s failed",
                    "subscribe" if subscribe else "unsubscribe",
                    extra={"channel": channel, "error": repr(exc)},
                )
                if ready is not None and not ready.done():
                    ready.set_exception(exc)
                continue
            if ready is not None and not ready.done():
                ready.set_result(None)

    # --- delivery ----------------------------------------------------------------------

    def deliver(self, channel: str, offset: str, payload: bytes) -> None:
        """The broker's listener: one publication for every local subscriber of `channel`."""
        state = self._channels.get(channel)
        if state is None:
            return
        event = orjson.loads(payload)
        if not isinstance(event, dict):
            log.warning("dropped a publication that is not an object", extra={"channel": channel})
            return
        event_type = _type(event)
        if event_type == ACCESS_CHANGED:
            self._access_changed(state, event)
        elif state.coalescer is None:
            self._fanout(state, offset, event)
        elif state.kind and (merge := state.kind.coalesce.get(event_type or "")) is not None:
            state.coalescer.offer(offset, event, merge)
        else:
            state.coalescer.flush()
            self._fanout(state, offset, event)

    def _access_changed(self, state: ChannelState, event: dict[str, Any]) -> None:
        # A pending update was published before the change, while its readers were allowed.
        if state.coalescer is not None:
            state.coalescer.flush()
        state.access_epoch += 1
        if self._on_access is not None:
            self._on_access(state.name, event)

    def _fanout(self, state: ChannelState, offset: str, event: dict[str, Any]) -> None:
        # Only events the kind filters differ by `events` filter; the rest is one frame for all.
        filter_ = state.kind.filter_for(event) if state.kind else None
        changed = state.latest.changed(filter_, event) if filter_ else None
        frames: dict[Selection, bytes | None] = {}

        def frame_for(selection: Selection) -> bytes | None:
            key = selection if filter_ else None
            if key not in frames:
                frames[key] = filtered_frame(state.name, offset, event, filter_, key, changed)
            return frames[key]

        state.last = offset
        queue = self._outbox.queue
        for selection in state.groups:
            frame = frame_for(selection)
            if frame is not None:
                queue(state, selection, frame)
        for sub in state.catching_up.values():
            assert sub.buffer is not None
            sub.buffer.append((offset, frame_for(sub.selection)))

    def flush(self) -> None:
        """Write every queued fan-out frame now (see channels/outbox.py)."""
        self._outbox.flush()

    def missed(self) -> None:
        """The broker's gap notice: live publications may have been lost on every channel.

        Called before any publication that follows the gap, so each subscriber reads, in
        order: events up to `offset`, this `resync`, then live events again. Subscribing
        again with `since` replays what was missed from history.
        """
        for state in list(self._channels.values()):
            notice = message_frame(
                Resync(channel=state.name, offset=state.last, reason="broker_reconnect").wire()
            )
            for conns in list(state.groups.values()):
                for conn in list(conns):
                    self._write(conn, notice)
            for sub in state.catching_up.values():  # after its replay, which may predate the gap
                assert sub.buffer is not None
                sub.buffer.append((None, notice))
            state.access_epoch += 1  # an access change may be among the lost publications
        if self._on_gap is not None:
            self._on_gap()

    # --- single messages and closing ---------------------------------------------------

    def send(self, conn: Connection, message: ServerMessage) -> None:
        """Send one message to one socket, in order with fan-out frames."""
        self._write(conn, message_frame(message.wire()))

    def _write(self, conn: Connection, frame: bytes) -> None:
        if self._outbox.pending:  # fan-out frames queued before this one leave first
            self.flush()
        transport = conn.transport
        if conn.closing or transport.is_closing():
            return
        if transport.get_write_buffer_size() > self._max_pending:
            self.kick(conn, CloseCode.slow_consumer, "slow consumer")
            return
        transport.write(frame)
        self.stats.messages_out += 1

    def kick(self, conn: Connection, code: CloseCode, reason: str) -> None:
        """Detach `conn` now and close it with `code` in the background."""
        if conn.closing:
            return
        conn.closing = True
        self.remove(conn)
        if code is CloseCode.slow_consumer:
            self.stats.slow_consumers_dropped += 1
        log.info("closing socket", extra={"code": int(code), "reason": reason})
        task = asyncio.create_task(conn.ws.close(code=int(code), message=reason.encode()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
