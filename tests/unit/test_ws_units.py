"""Pure logic of the realtime node: coalescing, history cuts, frames, message parsing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest

from channels.broker import OffsetClock, replay_after
from channels.coalescer import Coalescer
from channels.frames import text_frame
from channels.kinds import merge_latest
from channels.protocol import ProtocolError, Subscribe, parse_client_message
from handlers.videos.events import channel_kind


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_coalescer_caps_the_rate_and_flushes_the_last_value() -> None:
    clock = Clock()
    sent: list[tuple[str, dict[str, Any]]] = []
    coalescer = Coalescer(lambda o, e: sent.append((o, e)), hz=10, clock=clock)
    merge = merge_latest("data")
    coalescer.offer(
        "1-0", {"type": "video_update", "data": {"view_count": 1, "like_count": 0}}, merge
    )
    assert len(sent) == 1, "the first update of a quiet channel leaves at once"
    for n in range(2, 50):
        coalescer.offer(f"{n}-0", {"type": "video_update", "data": {"view_count": n}}, merge)
    coalescer.offer("50-0", {"type": "video_update", "data": {"like_count": 7}}, merge)
    assert len(sent) == 1, "the burst waits for the next slot"
    clock.now = 0.1
    coalescer.flush()  # what the timer does
    assert sent[-1] == (
        "50-0",
        {"type": "video_update", "data": {"view_count": 49, "like_count": 7}},
    )
    coalescer.offer("51-0", {"type": "video_update", "data": {"view_count": 50}}, merge)
    assert len(sent) == 2, "still within 1/hz of the last send"
    coalescer.close()


async def test_coalescer_timer_delivers_the_trailing_update() -> None:
    sent: list[str] = []
    coalescer = Coalescer(lambda o, e: sent.append(o), hz=50)
    merge = merge_latest("data")
    for n in range(5):
        coalescer.offer(f"{n}-0", {"type": "video_update", "data": {"view_count": n}}, merge)
    async with asyncio.timeout(30):  # the trailing send is due 1/hz later; allow a slow machine
        while len(sent) < 2:  # noqa: ASYNC110 - the timer is the thing under test
            await asyncio.sleep(0.01)
    assert sent == ["0-0", "4-0"], "the first at once, then only the newest"


def test_replay_after_detects_gaps() -> None:
    entries = [("5-0", b"a"), ("6-0", b"b"), ("7-0", b"c")]
    full = replay_after(entries, "5-0", "7-0")
    assert full.complete and [o for o, _ in full.entries] == ["6-0", "7-0"]
    gap = replay_after(entries[1:], "5-0", "7-0")
    assert not gap.complete, "5-0 was trimmed: 5-0 < x < 6-0 may be lost"
    current = replay_after(entries, "7-0", "7-0")
    assert current.complete and current.entries == []
    assert replay_after([], "3-0", None).complete


def test_offsets_increase_even_within_a_millisecond() -> None:
    clock = OffsetClock()
    offsets = [clock.next() for _ in range(1000)]
    keys = [tuple(int(p) for p in o.split("-")) for o in offsets]
    assert keys == sorted(keys) and len(set(keys)) == 1000


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frames_are_unmasked_final_frames(size: int) -> None:
    payload = b"x" * size
    frame = text_frame(payload)
    assert frame[0] == 0x81 and not frame[1] & 0x80
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert frame[header:] == payload and len(frame) == header + size


async def _no_such_video(_: uuid.UUID) -> None:
    return None


def test_client_messages() -> None:
    message = parse_client_message(
        orjson.dumps({"type": "subscribe", "channel": "video:x", "since": "12-3", "id": 4})
    )
    assert isinstance(message, Subscribe) and message.since == "12-3"
    for raw in (b"[]", b"{", b'{"type": "subscribe"}', b'{"type": "subscribe", "channel": "v",'
                b' "since": "yesterday"}', b'{"type": "nope"}'):  # fmt: skip
        with pytest.raises(ProtocolError):
            parse_client_message(raw)
    videos = channel_kind(_no_such_video)
    assert videos.selection(None) is None
    assert videos.selection(["like_count"]) == frozenset({"like_count"})
    with pytest.raises(ProtocolError):
        videos.selection([])
