"""CLUTCH's page-number pagination: `page`/`limit` in, the `pagination` object out."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

MAX_PAGE_SIZE = 50  # CLUTCH: "limit: number (default: 20, max: 50)"
DEFAULT_PAGE_SIZE = 20
# Deep offsets are refused rather than sent to Postgres: past this no client is paging, and an
# unbounded page number would overflow the int8 OFFSET (a 500 instead of a 400).
MAX_PAGE = 100_000


class PageQuery(BaseModel):
    """Query parameters. Unknown ones are ignored, not refused: clients add cache busters."""

    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="1-based page number")
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size")


class Pagination(BaseModel):
    current_page: int
    total_pages: int
    total_items: int
    has_next: bool
    has_prev: bool

    @classmethod
    def of(cls, query: PageQuery, total_items: int) -> Pagination:
        total_pages = math.ceil(total_items / query.limit)
        return cls(
            current_page=query.page,
            total_pages=total_pages,
            total_items=total_items,
            has_next=query.page < total_pages,
            has_prev=query.page > 1,
        )
