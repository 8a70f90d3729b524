"""Keyset cursors (core/paging.py): they round-trip exactly and refuse anything else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import ValidationFailed
from core.paging import Slice, Window, decode_cursor, encode_cursor

TYPES = (datetime, float, int, uuid.UUID)


def test_cursors_round_trip_exactly() -> None:
    key = (
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        0.1 + 0.2,  # no rounding on the way: the key compares equal in SQL
        2**62,
        uuid.uuid4(),
    )
    cursor = encode_cursor("videos:trending", key)
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor, "videos:trending", TYPES) == key
    other_zone = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert decode_cursor(encode_cursor("s", (other_zone,)), "s", (datetime,)) == (other_zone,)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        encode_cursor("videos:latest", (1.0, 1.0, 1, uuid.uuid4())),  # another scope
        encode_cursor("videos:trending", (1.0, 1.0, 1)),  # too short
        encode_cursor("videos:trending", ("x", 1.0, 1, uuid.uuid4())),  # type: ignore[arg-type]
        encode_cursor("videos:trending", (datetime.now(UTC), True, 1, uuid.uuid4())),
        encode_cursor("videos:trending", (datetime.now(UTC), 1.0, 1.5, uuid.uuid4())),
        encode_cursor("videos:trending", (datetime.now(UTC), 1.0, 2**63, uuid.uuid4())),
        encode_cursor("videos:trending", (datetime.now(UTC), 1.0, 1, "not-a-uuid")),  # type: ignore[arg-type]
        encode_cursor("videos:trending", (datetime(2026, 1, 1), 1.0, 1, uuid.uuid4())),  # naive
    ],
)
def test_anything_else_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor(cursor, "videos:trending", TYPES)
    assert "cursor" in refused.value.field_errors


def test_a_page_after_a_cursor_reads_one_more_row_to_know_what_follows() -> None:
    window = Window(limit=2, after=(1,))
    assert window.fetch == 3 and Window(limit=2, offset=4).fetch == 2
    rows = [("a", (3,)), ("b", (2,)), ("c", (1,))]
    page = Slice.of(window, rows)
    assert (page.items, page.last_key, page.more) == (["a", "b"], (2,), True)
    assert Slice.of(window, rows[:2]).more is False
    assert Slice.of(Window(limit=2), rows[:2]).more is None  # by number: the total tells
    assert Slice.of(window, []).last_key is None
