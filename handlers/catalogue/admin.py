"""OnStream's admin features: system figures, the user list, clearing the catalogue cache.
Admins only (the routes check the token's role; these functions trust their caller)."""

from __future__ import annotations

from typing import Any

from handlers.accounts.service import AccountService
from handlers.catalogue.cache import Kind
from handlers.catalogue.library import LibraryService
from handlers.catalogue.service import CatalogueService


class CatalogueAdmin:
    def __init__(
        self, *, catalogue: CatalogueService, library: LibraryService, accounts: AccountService
    ) -> None:
        self.catalogue = catalogue
        self.library = library
        self.accounts = accounts

    async def stats(self) -> dict[str, Any]:
        """Cluster-wide figures: rows in Postgres, entries and counters in Redis."""
        totals = await self.library.totals()
        counters = await self.catalogue.cache.stats()
        hits, misses = counters.get("hits", 0), counters.get("misses", 0)
        return {
            "users": totals["users"],
            "favorites": totals["favorites"],
            "history_entries": totals["history_entries"],
            "catalogue": {
                "source": self.catalogue.source.name,
                "titles_stored": totals["titles_stored"],
                "cached_entries": await self.catalogue.cached_counts(),
            },
            "cache": {
                "hits": hits,
                "misses": misses,
                "stale_served": counters.get("stale", 0),
                "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
            },
            "upstream": await self.catalogue.upstream_stats(),
        }

    async def clear_cache(self, kind: Kind | None) -> int:
        return await self.catalogue.clear(kind)
