"""The torrent app's shapes (000): torrent metadata out, scraper batches in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    RootModel,
    StringConstraints,
    model_validator,
)

from core.errors import ValidationFailed
from server.http.models import RequestModel, text_schema, trim, trim_not_blank

# Torrents per ingest request: the whole batch is one transaction of a few statements.
MAX_BATCH = 1000
MAX_FILES = 10_000
MAX_PAGE_SIZE = 100
MAX_OFFSET = 10_000
MAX_SIZE = 2**53  # bytes; JSON numbers are exact up to here
CategorySlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,30}$")]


def _info_hash(value: str) -> str:
    return value.lower()


InfoHash = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F]{40}$"),
    AfterValidator(_info_hash),
]
Name = Annotated[
    str,
    StringConstraints(max_length=500),
    AfterValidator(trim_not_blank),
    text_schema(500, not_blank=True),
]
Tracker = Annotated[
    str,
    StringConstraints(max_length=500, pattern=r"^(udp|https?|wss?)://[^\s]+$"),
]


def _not_future(value: datetime) -> datetime:
    if value.timestamp() > datetime.now(UTC).timestamp() + 300:
        raise ValueError("is in the future")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_not_future)]


class FileIn(RequestModel):
    path: Annotated[
        str, StringConstraints(min_length=1, max_length=1000), AfterValidator(trim_not_blank)
    ]
    size: int = Field(ge=0, le=MAX_SIZE)


class TorrentIn(RequestModel):
    """One torrent as the scraper sends it."""

    info_hash: InfoHash = Field(description="BitTorrent v1 info hash, 40 hex digits")
    name: Name
    size: int = Field(ge=0, le=MAX_SIZE, description="Bytes; the sum of the files' sizes")
    category: CategorySlug = "other"
    seeders: int = Field(default=0, ge=0, le=10_000_000)
    leechers: int = Field(default=0, ge=0, le=10_000_000)
    seen_at: Moment = Field(description="When the swarm figures were seen (with a time zone)")
    published_at: Moment | None = Field(default=None, description="Default: seen_at")
    source: Annotated[str, StringConstraints(max_length=100), AfterValidator(trim)] = ""
    trackers: list[Tracker] = Field(default_factory=list, max_length=50)
    files: list[FileIn] = Field(default_factory=list, max_length=MAX_FILES)

    @model_validator(mode="after")
    def _sizes_add_up(self) -> TorrentIn:
        if self.files and sum(f.size for f in self.files) != self.size:
            raise ValueError("size must equal the sum of the files' sizes")
        return self


class IngestRequest(RequestModel):
    torrents: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=(
            f"1 to {MAX_BATCH} torrents, each validated on its own (an item that is not a valid"
            " torrent is refused in the answer, the others still go in): `info_hash` (40 hex"
            " digits), `name`, `size` (bytes, the sum of the files'), `category`, `seeders`,"
            " `leechers`, `seen_at` and `published_at` (ISO 8601 with a time zone), `source`,"
            " `trackers` (udp/http(s)/ws(s) URLs), `files` ([{path, size}])"
        ),
    )


ItemStatus = Literal["created", "updated", "unchanged", "refused"]


class IngestItem(BaseModel):
    index: int
    info_hash: str | None
    status: ItemStatus
    id: uuid.UUID | None = None
    errors: dict[str, list[str]] | None = Field(
        default=None, description="Why a refused item was refused, by field"
    )


class IngestResponse(BaseModel):
    success: bool = True
    created: int
    updated: int
    unchanged: int
    refused: int
    results: list[IngestItem]


class TorrentListQuery(BaseModel):
    """Pages by `limit`/`offset` (000) or by `page`. Unknown parameters are ignored."""

    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    offset: int | None = Field(default=None, ge=0, le=MAX_OFFSET)
    page: int | None = Field(default=None, ge=1, le=MAX_OFFSET // MAX_PAGE_SIZE + 1)
    category: CategorySlug | None = None
    min_seeders: int | None = Field(default=None, ge=0)
    min_size: int | None = Field(default=None, ge=0, le=MAX_SIZE)
    max_size: int | None = Field(default=None, ge=0, le=MAX_SIZE)

    @property
    def start(self) -> int:
        """The first row asked for. Both `offset` and `page` given, or a page deeper than
        MAX_OFFSET rows, is a VALIDATION_ERROR naming `page` (a rule across two parameters,
        which the OpenAPI document cannot state)."""
        if self.offset is not None and self.page is not None:
            raise ValidationFailed(
                "Send either offset or page, not both",
                field_errors={"page": ["Send either offset or page, not both"]},
            )
        start = self.offset if self.offset is not None else ((self.page or 1) - 1) * self.limit
        if start > MAX_OFFSET:
            message = f"Pages reach {MAX_OFFSET} rows deep at most"
            raise ValidationFailed(message, field_errors={"page": [message]})
        return start


class TorrentSearchQuery(TorrentListQuery):
    q: Annotated[
        str,
        StringConstraints(max_length=200),
        AfterValidator(trim_not_blank),
        text_schema(200, not_blank=True),
    ] = Field(description="Words of the name or file paths; close spellings when none match")
    sort: Literal["relevance", "seeders", "date", "size"] = "relevance"


class TorrentOut(BaseModel):
    id: uuid.UUID
    info_hash: str
    name: str
    size: int
    category: str
    file_count: int
    seeders: int
    leechers: int
    seen_at: datetime
    source: str
    published_at: datetime
    updated_at: datetime
    magnet: str = Field(description="magnet:?xt=urn:btih:...&dn=...&tr=...")


class TorrentPage(RootModel[list[TorrentOut]]):
    """A page of torrents, as a JSON array (000); X-Total-Count and Link say the rest."""


class FileOut(BaseModel):
    index: int
    path: str
    size: int


class TorrentDetail(TorrentOut):
    trackers: list[str]
    files: list[FileOut]


class TorrentResponse(BaseModel):
    success: bool = True
    torrent: TorrentDetail


class CategoryOut(BaseModel):
    slug: str
    name: str
    torrent_count: int


class CategoryList(BaseModel):
    success: bool = True
    categories: list[CategoryOut]
