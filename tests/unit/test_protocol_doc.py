"""docs/PROTOCOL.md checked against the protocol's models (channels/protocol.py and the events
the domains declare, joined in server/realtime.py's `MESSAGES`).

Every JSON example in the document is a valid message and is exactly what the server writes
for it; every type in the document's message tables is a message the server may send, and
every such message has a row and an example.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from channels.protocol import CLIENT_MESSAGES, message_type, parse_client_message
from server.realtime import MESSAGES

DOC = (Path(__file__).parents[2] / "docs" / "PROTOCOL.md").read_text()
CLIENT_TYPES = frozenset(message_type(m) for m in CLIENT_MESSAGES)


def _section(heading: str) -> str:
    start = DOC.index(f"\n## {heading}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def _table_types(section: str) -> set[str]:
    """The first cells of the section's table rows that name a message type."""
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def _examples(text: str) -> list[dict[str, Any]]:
    """Every JSON object in the ```json blocks of `text`, in order."""
    decoder = json.JSONDecoder()
    found = []
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL):
        at = 0
        while (at := _skip_space(block, at)) < len(block):
            value, at = decoder.raw_decode(block, at)
            found.append(value)
    return found


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


EXAMPLES = _examples(DOC)


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{n}-{e.get('type')}" for n, e in enumerate(EXAMPLES)]
)
def test_every_example_is_a_valid_message_as_the_server_writes_it(example: dict[str, Any]) -> None:
    assert isinstance(example.get("type"), str), example
    if example["type"] in CLIENT_TYPES:
        parse_client_message(orjson.dumps(example))  # raises ProtocolError if it is not one
        return
    message = MESSAGES.validate(example)
    assert message.wire() == example, "the document shows the exact wire form"


def test_every_server_message_has_a_row_and_an_example() -> None:
    section = _section("Server messages")
    assert _table_types(section) == MESSAGES.types
    examples = {e["type"] for e in _examples(section)}
    assert examples == MESSAGES.types


def test_every_client_message_has_a_row_and_an_example() -> None:
    section = _section("Client messages")
    assert _table_types(section) == CLIENT_TYPES
    assert {e["type"] for e in _examples(section)} == CLIENT_TYPES


def test_a_type_no_model_declares_is_refused() -> None:
    with pytest.raises(ValueError):
        MESSAGES.validate({"type": "video_updated", "channel": "video:x", "offset": "1-0"})
    with pytest.raises(ValueError):  # an event without the fields the hub adds
        MESSAGES.validate(
            {"type": "comment_deleted", "video_id": EXAMPLE_ID, "comment_id": EXAMPLE_ID}
        )


EXAMPLE_ID = "7d3c6a1e-2b4f-4c55-9a8e-0f1e2d3c4b5a"
