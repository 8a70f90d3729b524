"""Keyset paging: which rows of an ordered list a request reads, and the cursor that resumes it.

A list ordered by a unique sort key (for example `published_at DESC, id DESC`) is read after a
key rather than at an offset: `WHERE (published_at, id) < ($1, $2) ORDER BY ... LIMIT n` is an
index range scan that costs the same on the first page and the ten-thousandth, and rows
inserted before the key (new videos, new comments) do not shift the pages after it. The cursor
is that key, encoded; storage states the types of each list's key and compares them in SQL.

Guarantees: a cursor decodes only to a key of the types its list declares, under the scope it
was made for (another list's cursor is refused, not misread); a page read after a cursor holds
rows strictly after its key, so a row is never listed twice while the sort values stay put.
A row whose sort value changes while a client pages (a view count, a trending score) may be
missed or met again: keyset paging is stable under inserts and deletes, not under re-sorting.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import orjson

from core.errors import ValidationFailed

KeyPart = datetime | uuid.UUID | int | float
Key = tuple[KeyPart, ...]
KeyTypes = tuple[type, ...]
T = TypeVar("T")

# A cursor holds a scope and a few sort values: a few hundred bytes at most.
MAX_CURSOR_LENGTH = 512
_INT8 = 2**63


@dataclass(frozen=True, slots=True)
class Window:
    """The rows one request reads: `limit` rows at `offset` (a page by number), or the
    `limit` rows after the sort key `after` (a page by cursor)."""

    limit: int
    offset: int = 0
    after: Key | None = None

    @property
    def fetch(self) -> int:
        """Rows to read: one more after a cursor, which tells whether another page follows."""
        return self.limit + 1 if self.after is not None else self.limit


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of a list: its items, the sort key of the last one, and (after a cursor)
    whether more rows follow."""

    items: list[T]
    last_key: Key | None
    more: bool | None

    @classmethod
    def of(cls, window: Window, rows: Sequence[tuple[T, Key]]) -> Slice[T]:
        """The page from rows read with `window.fetch` (the extra row, if any, dropped)."""
        page = list(rows[: window.limit])
        more = len(rows) > window.limit if window.after is not None else None
        return cls([item for item, _ in page], page[-1][1] if page else None, more)


def encode_cursor(scope: str, key: Key) -> str:
    """An opaque, URL-safe cursor for the rows after `key` in the list named `scope`."""
    values = [str(v) if isinstance(v, uuid.UUID) else v for v in key]
    raw = orjson.dumps([scope, values], option=orjson.OPT_UTC_Z)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, scope: str, types: KeyTypes) -> Key:
    """The key a cursor of `scope` holds, each part of the declared type; VALIDATION_ERROR
    for anything else (garbled, forged, or made for another list or sort)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, values = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise _invalid() from None
    if made_for != scope or not isinstance(values, list) or len(values) != len(types):
        raise _invalid()
    try:
        return tuple(_part(value, kind) for value, kind in zip(values, types, strict=True))
    except (ValueError, TypeError):
        raise _invalid() from None


def _part(value: object, kind: type) -> KeyPart:
    if kind is datetime and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        return moment
    if kind is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    if kind is int and type(value) is int and -_INT8 <= value < _INT8:
        return value
    if kind is float and type(value) in (int, float):
        number = float(value)  # type: ignore[arg-type]
        if math.isfinite(number):
            return number
    raise ValueError(f"not a {kind.__name__}")


def _invalid() -> ValidationFailed:
    return ValidationFailed(
        "Invalid cursor",
        field_errors={
            "cursor": ["Not a cursor of this list and sort: start again without a cursor"]
        },
    )
