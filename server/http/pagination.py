"""CLUTCH's pagination: `page`/`limit` in and the `pagination` object out, plus keyset cursors
for long lists (CLUTCH: "cursor-based pagination for large datasets", core/paging.py).

Two ways to ask for a page, answered the same way:

- `page` and `limit`: as CLUTCH writes it. Deep pages cost an OFFSET scan and shift when rows
  are inserted before them; `page` stops at MAX_PAGE.
- `cursor` and `limit`: the rows after the cursor, as deep as the list goes at the cost of the
  first page, unmoved by inserts. Every page that has a next one (by number or by cursor)
  carries `next_cursor`, so a client may switch to cursors after the first page.

Lists answered as an object carry the cursor in `pagination.next_cursor`; lists answered as a
bare array (CLUTCH's replies) carry the same facts in headers (`page_headers`).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from yarl import URL

from core.paging import MAX_CURSOR_LENGTH, KeyTypes, Slice, Window, decode_cursor, encode_cursor

MAX_PAGE_SIZE = 50  # CLUTCH: "limit: number (default: 20, max: 50)"
DEFAULT_PAGE_SIZE = 20
# Deep offsets are refused rather than sent to Postgres: past this no client is paging, and an
# unbounded page number would overflow the int8 OFFSET (a 500 instead of a 400).
MAX_PAGE = 100_000

# Headers of a list answered as an array (documented in the OpenAPI of such endpoints).
PAGE_HEADERS = {
    "X-Total-Count": "Items in the whole list",
    "Link": 'RFC 8288 links: rel="next" (absent on the last page), and for pages by number'
    ' rel="prev", "first" and "last"',
    "X-Next-Cursor": "The `cursor` of the next page (absent on the last page)",
}


class PageNumberQuery(BaseModel):
    """Query parameters of a list paged by number only. Unknown ones are ignored, not refused:
    clients add cache busters."""

    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="1-based page number")
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size")


class PageQuery(PageNumberQuery):
    """Query parameters of a list paged by number or by cursor."""

    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        description=(
            "Instead of `page`: the `next_cursor` of the previous page, for the rows after it"
            " (stable under inserts, as fast deep in the list as at its start)"
        ),
    )

    @field_validator("cursor")
    @classmethod
    def _cursor_or_page(cls, cursor: str | None, info: ValidationInfo) -> str | None:
        if cursor is not None and info.data.get("page", 1) != 1:
            raise ValueError("Send either a cursor or a page number, not both")
        return cursor

    def window(self, scope: str, key_types: KeyTypes) -> Window:
        """The rows this query asks for, its cursor decoded against the list's `scope` and
        sort key types (VALIDATION_ERROR on a cursor of another list)."""
        if self.cursor is None:
            return Window(limit=self.limit, offset=(self.page - 1) * self.limit)
        return Window(limit=self.limit, after=decode_cursor(self.cursor, scope, key_types))


class Pagination(BaseModel):
    current_page: int | None = Field(description="null on a page asked for by cursor")
    total_pages: int
    total_items: int
    has_next: bool
    has_prev: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )

    @classmethod
    def of(
        cls,
        query: PageNumberQuery,
        total_items: int,
        found: Slice[Any] | None = None,
        scope: str = "",
    ) -> Pagination:
        """The page `query` asked for, of a list of `total_items`; with `found` (the page read),
        the cursor of the next page too."""
        total_pages = math.ceil(total_items / query.limit)
        by_cursor = isinstance(query, PageQuery) and query.cursor is not None
        has_next = bool(found and found.more) if by_cursor else query.page < total_pages
        last_key = found.last_key if found else None
        return cls(
            current_page=None if by_cursor else query.page,
            total_pages=total_pages,
            total_items=total_items,
            has_next=has_next,
            has_prev=by_cursor or query.page > 1,
            next_cursor=encode_cursor(scope, last_key) if has_next and last_key else None,
        )


def page_headers(url: URL, query: PageQuery, pagination: Pagination) -> dict[str, str]:
    """`pagination` as headers, for a list answered as a bare array: X-Total-Count, Link
    (next; for pages by number also prev, first and last) and X-Next-Cursor."""
    # Only the list's own parameters travel on: anything else in the URL was ignored, and a
    # header must not carry what a client put there (control characters would break it).
    own = set(type(query).model_fields) - {"page", "cursor", "limit"}
    kept = [(k, v) for k, v in url.query.items() if k in own]

    def link(rel: str, **params: str | int) -> str:
        target = url.with_query([*kept, *params.items()])
        return f'<{target.raw_path_qs}>; rel="{rel}"'

    links = []
    if query.cursor is not None and pagination.next_cursor is not None:
        links.append(link("next", cursor=pagination.next_cursor, limit=query.limit))
    if query.cursor is None:
        if pagination.has_next:
            links.append(link("next", page=query.page + 1, limit=query.limit))
        if query.page > 1:
            links.append(link("prev", page=query.page - 1, limit=query.limit))
        links.append(link("first", page=1, limit=query.limit))
        links.append(link("last", page=max(pagination.total_pages, 1), limit=query.limit))
    headers = {"X-Total-Count": str(pagination.total_items)}
    if links:
        headers["Link"] = ", ".join(links)
    if pagination.next_cursor is not None:
        headers["X-Next-Cursor"] = pagination.next_cursor
    return headers
