"""The public video lists (`GET /api/videos`), answered from a short per-node cache.

What is cached: the encoded body of a list page, keyed by everything the answer depends on
(sort, category, tags, search text, page, limit), and the number of matching videos per
filter. Lists are anonymous (the endpoint takes no token) and show only public, ready videos
(`storage.videos.videos.LISTED`), so one answer is right for every caller; nothing private or
unlisted can enter the cache.

Why per node and in process, not in Redis: a hit then costs no round trip at all, and the
figures (issue 5) were bound by round trips: before this, each page was two Postgres queries
and two connection resets, 2.3 ms of CPU. The price is that nodes do not share entries: each
node queries a hot list once per TTL, which Postgres serves from its list indexes.

Staleness, stated as guarantees:

- A page or total is at most `LIST_CACHE_SECONDS` old (default 5 s). View counts in lists were
  already up to `VIEW_FLUSH_INTERVAL_SECONDS` behind; likes, comments and follower counts shown
  in a list now lag by up to the TTL too. `GET /api/videos/{id}` is not cached and stays exact.
- Creating, editing or deleting a video through a node clears that node's lists once the
  change is committed, so its author sees it at once on that node. It then publishes a notice
  on the broker's `internal:video-lists` channel (channels/internal.py), and every node clears
  its lists when the notice arrives: within about one Redis round trip after the write, so a
  video made private or deleted leaves every node's lists promptly, not after the TTL.
- When Redis is unreachable the notice is lost (the write still succeeds; logged) and other
  nodes show the change within the TTL, as before. A node whose pub/sub connection dropped
  may have missed notices, so it clears its lists when it reconnects. A clear also keeps out
  the result of any load already running (core/ttl_cache.py), so nothing read before the
  notice is cached after it.
- `LIST_CACHE_SECONDS=0` turns the cache off: every request queries Postgres.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from core.paging import Window
from core.ttl_cache import AsOf, TtlCache
from handlers.videos.models import VideoListQuery, encode_list
from server.http.pagination import Pagination
from storage.videos import videos

PageKey = tuple[str, str | None, tuple[str, ...], str | None, int, int, str | None]
FilterKey = tuple[str | None, tuple[str, ...], str | None]
# A total is one int; this is what an entry costs in the cache's budget.
TOTAL_WEIGHT = 100


@dataclass
class VideoLists:
    """This node's cached list pages (encoded bodies) and totals (per filter)."""

    pages: TtlCache[PageKey, bytes]
    totals: TtlCache[FilterKey, int]

    @classmethod
    def create(cls, *, ttl: float, budget: int) -> VideoLists:
        """Pages kept `ttl` seconds (0: no cache) within `budget` bytes (totals a 16th)."""
        return cls(
            pages=TtlCache(ttl_seconds=ttl, max_weight=budget, weigh=len),
            totals=TtlCache(ttl_seconds=ttl, max_weight=budget // 16, weigh=lambda _: TOTAL_WEIGHT),
        )

    def invalidate(self) -> None:
        """A video was created, changed or deleted: this node answers from Postgres again."""
        self.pages.clear()
        self.totals.clear()

    async def page(self, pool: asyncpg.Pool, query: VideoListQuery) -> bytes:
        """The encoded `VideoList` for this query (VALIDATION_ERROR for a foreign cursor)."""
        sort: videos.Sort = query.sort or ("relevance" if query.q else "latest")
        window = query.window(list_scope(sort), videos.KEY_TYPES[sort])
        tags = tuple(query.tag_list())
        key: PageKey = (sort, query.category, tags, query.q, query.page, query.limit, query.cursor)
        return await self.pages.get_or_load(
            key, lambda: self._load(pool, query, sort, tags, window)
        )

    async def _load(
        self,
        pool: asyncpg.Pool,
        query: VideoListQuery,
        sort: videos.Sort,
        tags: tuple[str, ...],
        window: Window,
    ) -> bytes | AsOf[bytes]:
        where = videos.ListFilter(category=query.category, tags=list(tags) or None, q=query.q)
        found = await videos.list_rows(pool, where, sort=sort, window=window)
        scope = list_scope(sort)
        total = videos.known_total(found, window)
        if total is not None:
            return encode_list(found.items, Pagination.of(query, total, found, scope))
        total, counted_at = await self.totals.get_timed(
            (query.category, tags, query.q), lambda: videos.count_listed(pool, where)
        )
        # The page is only as fresh as the total it carries: it expires a TTL after the count.
        pagination = Pagination.of(query, total, found, scope)
        return AsOf(encode_list(found.items, pagination), counted_at)


def list_scope(sort: videos.Sort) -> str:
    """What a cursor of the public lists is valid for: lists of the same sort (any filter)."""
    return f"videos:{sort}"
