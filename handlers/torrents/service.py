"""The torrent index: what the scraper ingests and what the app reads.

Ingest validates each torrent on its own (one bad item never refuses the batch), keeps the
last of an info hash sent twice in one batch, and upserts the rest in one transaction:
new torrents with their files; known ones only take the swarm figures of a newer sighting
(`seen_at`), so the same batch twice changes nothing. Metadata (name, files, trackers) is the
first sighting's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import TypeAdapter, ValidationError

from core import validation
from core.errors import Forbidden, ValidationFailed
from core.magnet import magnet_uri
from core.roles import ADMIN
from core.tokens import AccessClaims
from core.validation import InvalidInput
from handlers.torrents.models import ItemStatus, TorrentIn
from storage.torrents import torrents
from storage.torrents.torrents import Category, File, Filters, Incoming, Sort, Torrent

_BATCH = TypeAdapter(list[TorrentIn])


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    index: int
    info_hash: str | None
    status: ItemStatus
    id: uuid.UUID | None = None
    errors: dict[str, list[str]] | None = None


@dataclass(frozen=True, slots=True)
class SearchPage:
    torrents: list[Torrent]
    total: int
    fuzzy: bool


def magnet(torrent: Torrent) -> str:
    return magnet_uri(torrent.info_hash, torrent.name, torrent.trackers)


def _incoming(item: TorrentIn) -> Incoming:
    return Incoming(
        info_hash=item.info_hash,
        name=item.name,
        size=item.size,
        category=item.category,
        seeders=item.seeders,
        leechers=item.leechers,
        seen_at=item.seen_at,
        source=item.source,
        trackers=list(dict.fromkeys(item.trackers)),
        published_at=item.published_at or item.seen_at,
        files=[File(i, f.path, f.size) for i, f in enumerate(item.files)],
    )


def _admin(caller: AccessClaims) -> None:
    if caller.role != ADMIN:
        raise Forbidden("Only administrators manage torrents")


class TorrentService:
    def __init__(self, *, db: asyncpg.Pool) -> None:
        self.db = db

    async def ingest(self, raw_items: list[Any]) -> list[ItemOutcome]:
        categories = await torrents.category_slugs(self.db)
        outcomes: dict[int, ItemOutcome] = {}
        accepted: dict[str, tuple[int, Incoming]] = {}
        try:
            # The usual batch is all valid: one validation of the whole list (in pydantic's
            # core) is several times cheaper than one per item. Otherwise, item by item.
            valid: list[TorrentIn | None] = list(_BATCH.validate_python(raw_items))
        except ValidationError:
            valid = [None] * len(raw_items)
        for index, raw in enumerate(raw_items):
            if valid[index] is not None:
                item = valid[index]
                assert item is not None
                self._accept(index, item, categories, outcomes, accepted)
                continue
            if not isinstance(raw, dict):
                errors = {"item": ["Must be a JSON object (a torrent)"]}
                outcomes[index] = ItemOutcome(index, None, "refused", errors=errors)
                continue
            hash_guess = raw.get("info_hash")
            guess = hash_guess.lower() if isinstance(hash_guess, str) else None
            try:
                item = validation.validate(TorrentIn.model_validate, TorrentIn, raw)
            except InvalidInput as exc:
                outcomes[index] = ItemOutcome(
                    index, guess, "refused", errors=exc.problems.by_field()
                )
                continue
            assert isinstance(item, TorrentIn)
            self._accept(index, item, categories, outcomes, accepted)
        done = await torrents.upsert(self.db, [incoming for _, incoming in accepted.values()])
        changed = {row.info_hash: row for row in done}
        for info_hash, (index, _) in accepted.items():
            row = changed.get(info_hash)
            if row is None:
                outcomes[index] = ItemOutcome(index, info_hash, "unchanged")
            else:
                status: ItemStatus = "created" if row.created else "updated"
                outcomes[index] = ItemOutcome(index, info_hash, status, row.id)
        return [outcomes[index] for index in sorted(outcomes)]

    @staticmethod
    def _accept(
        index: int,
        item: TorrentIn,
        categories: set[str],
        outcomes: dict[int, ItemOutcome],
        accepted: dict[str, tuple[int, Incoming]],
    ) -> None:
        """A valid item joins the batch, unless its category is unknown; of an info hash sent
        twice, the last one counts and the earlier is refused."""
        if item.category not in categories:
            outcomes[index] = ItemOutcome(
                index, item.info_hash, "refused",
                errors={"category": [f"Unknown category; one of {sorted(categories)}"]},
            )  # fmt: skip
            return
        earlier = accepted.get(item.info_hash)
        if earlier is not None:
            outcomes[earlier[0]] = ItemOutcome(
                earlier[0], item.info_hash, "refused",
                errors={"info_hash": [f"Sent again at index {index}; the last one counts"]},
            )  # fmt: skip
        accepted[item.info_hash] = (index, _incoming(item))

    async def latest(
        self, filters: Filters, *, limit: int, offset: int
    ) -> tuple[list[Torrent], int]:
        return await torrents.latest(self.db, filters, limit=limit, offset=offset)

    async def search(
        self, text: str, filters: Filters, *, sort: Sort, limit: int, offset: int
    ) -> SearchPage:
        found, total, fuzzy = await torrents.search(
            self.db, text, filters, sort=sort, limit=limit, offset=offset
        )
        return SearchPage(found, total, fuzzy)

    async def get(self, torrent_id: uuid.UUID) -> tuple[Torrent, list[File]]:
        return await torrents.get(self.db, torrent_id)

    async def categories(self) -> list[Category]:
        return await torrents.categories(self.db)

    async def delete(self, torrent_id: uuid.UUID, *, by: AccessClaims) -> None:
        _admin(by)
        await torrents.delete(self.db, torrent_id)

    async def edit(
        self, torrent_id: uuid.UUID, *, name: str, category: str, by: AccessClaims
    ) -> None:
        _admin(by)
        if category not in await torrents.category_slugs(self.db):
            raise ValidationFailed("Unknown category", field_errors={"category": ["Unknown"]})
        await torrents.rename(self.db, torrent_id, name=name, category=category)
