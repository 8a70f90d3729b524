"""The realtime core knows no domain: what it knows of channels, domains register as kinds."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from channels.kinds import ChannelKind, ChannelKinds, FieldFilter, merge_latest, uuid_names
from channels.protocol import ErrorCode, ProtocolError

CHANNELS_DIR = Path(__file__).parents[2] / "channels"
# A domain's name, its channels, its event, its fields: none may appear in the core.
DOMAIN_WORDS = {
    "video (any case)": re.compile(r"video", re.IGNORECASE),
    "a user: channel": re.compile(r"(?<![\w])user:"),
    "video_update": re.compile(r"video_update"),
    "VIDEO_COUNTERS": re.compile(r"VIDEO_COUNTERS"),
}


def test_channels_source_names_no_domain() -> None:
    sources = sorted(CHANNELS_DIR.rglob("*.py"))
    assert sources, CHANNELS_DIR
    found = [
        f"{path.relative_to(CHANNELS_DIR.parent)}:{number}: {what}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for what, pattern in DOMAIN_WORDS.items()
        if pattern.search(line)
    ]
    assert found == [], "\n".join(found)


def test_names_are_built_and_parsed_by_their_kind() -> None:
    names = uuid_names("room")
    ident = uuid.uuid4()
    assert names.name(ident) == f"room:{ident}" and names.parse(f"room:{ident}") == ident
    for bad in (f"room:{str(ident).upper()}", "room:nope", "room:", f"hall:{ident}", "room"):
        with pytest.raises(ProtocolError) as refused:
            names.parse(bad)
        assert refused.value.code is ErrorCode.unknown_channel


def test_the_registry_resolves_by_prefix_and_keeps_internal_channels_out() -> None:
    kinds = ChannelKinds([ChannelKind(uuid_names("room"))])
    ident = uuid.uuid4()
    kind, parsed = kinds.resolve(f"room:{ident}")
    assert kind.prefix == "room" and parsed == ident
    with pytest.raises(ProtocolError) as refused:
        kinds.resolve("internal:anything")
    assert refused.value.code is ErrorCode.unknown_channel
    with pytest.raises(ValueError):
        kinds.register(ChannelKind(uuid_names("internal")))
    with pytest.raises(ValueError):
        kinds.register(ChannelKind(uuid_names("room")))


def test_a_field_filter_selects_what_changed() -> None:
    scores = FieldFilter("data", frozenset({"home", "away"}))
    kind = ChannelKind(uuid_names("match"), filters={"score": scores})
    assert kind.selection(["home"]) == frozenset({"home"}) and kind.selection(None) is None
    for bad in ([], ["corners"], ["home", "away", "home"]):
        with pytest.raises(ProtocolError):
            kind.selection(bad)
    seen: dict[str, int] = {}
    first = {"type": "score", "data": {"home": 1, "away": 0}}
    assert scores.changed(seen, first) == {"home", "away"}
    again = {"type": "score", "data": {"home": 1, "away": 1}}
    changed = scores.changed(seen, again)
    assert changed == {"away"}
    assert scores.select(again, frozenset({"home"}), changed) is None, "home did not change"
    assert scores.select(again, frozenset({"away"}), changed) == {
        "type": "score",
        "data": {"away": 1},
    }
    assert scores.select(again, frozenset({"home"}), None) == {"type": "score", "data": {"home": 1}}


def test_merge_latest_keeps_the_newest_value_of_each_field() -> None:
    merge = merge_latest("data")
    merged = merge(
        {"type": "t", "n": 1, "data": {"a": 1, "b": 1}}, {"type": "t", "n": 2, "data": {"b": 2}}
    )
    assert merged == {"type": "t", "n": 2, "data": {"a": 1, "b": 2}}
