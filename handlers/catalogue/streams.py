"""Stream sources: the Consumet API's TMDb meta provider, tried server by server, then the
next provider.

Consumet (`CONSUMET_API_BASE`): `GET /meta/tmdb/info/{tmdb_id}?type=movie|tv` names the
provider's media id and episode ids; `GET /meta/tmdb/watch/{episodeId}?id={mediaId}&server=`
answers `{"headers": {...}, "sources": [{"url", "quality", "isM3U8"}], "subtitles": [...]}`.
A server that fails or answers no source is skipped for the next one; a provider whose every
server failed is skipped for the next provider. Nothing failed is returned, so nothing dead is
cached (the service caches only a non-empty set).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from handlers.catalogue.titles import MediaType, StreamSet, StreamSource
from handlers.catalogue.upstream import Policy, Upstream, UpstreamError, UpstreamNotFound

log = logging.getLogger("streamhub.catalogue.streams")


class NoSources(Exception):
    """No provider has a working source for this title (now)."""

    def __init__(self, reasons: list[str], *, not_found: bool = False) -> None:
        super().__init__("; ".join(reasons) or "no stream provider configured")
        self.reasons = reasons
        self.not_found = not_found


class StreamProvider(Protocol):
    name: str

    async def sources(
        self, media_type: MediaType, tmdb_id: int, season: int, episode: int
    ) -> list[StreamSource]: ...

    async def close(self) -> None: ...


def _episode_id(info: dict[str, Any], media_type: MediaType, season: int, episode: int) -> str:
    if media_type == "movie":
        if info.get("episodeId"):
            return str(info["episodeId"])
        episodes = info.get("episodes") or []
        if episodes:
            return str(episodes[0]["id"])
        raise UpstreamNotFound("no episode")
    for item in info.get("seasons") or []:
        if int(item.get("season", 0)) == season:
            for ep in item.get("episodes") or []:
                if int(ep.get("episode", 0)) == episode:
                    return str(ep["id"])
    raise UpstreamNotFound(f"no S{season}E{episode}")


class ConsumetProvider:
    name = "consumet"

    def __init__(
        self,
        base_url: str,
        policy: Policy,
        *,
        servers: Sequence[str],
        upstream: Upstream | None = None,
    ) -> None:
        self.http = upstream or Upstream("consumet", base_url, policy)
        self.servers = list(servers)

    async def close(self) -> None:
        await self.http.close()

    async def sources(
        self, media_type: MediaType, tmdb_id: int, season: int, episode: int
    ) -> list[StreamSource]:
        info = await self.http.get_json(f"/meta/tmdb/info/{tmdb_id}", {"type": media_type})
        media_id = str(info["id"])
        episode_id = _episode_id(info, media_type, season, episode)
        failures = []
        for server in self.servers:
            try:
                data = await self.http.get_json(
                    f"/meta/tmdb/watch/{episode_id}", {"id": media_id, "server": server}
                )
            except (UpstreamError, UpstreamNotFound) as exc:
                failures.append(f"{server}: {exc}")
                continue
            found = [
                StreamSource(
                    url=s["url"],
                    quality=str(s.get("quality") or "auto"),
                    server=server,
                    type="hls" if s.get("isM3U8") else "mp4",
                )
                for s in data.get("sources") or []
                if isinstance(s, dict) and s.get("url")
            ]
            if found:
                return found
            failures.append(f"{server}: no sources")
        raise UpstreamError(self.name, "every server failed: " + "; ".join(failures))


async def resolve(
    providers: Sequence[StreamProvider],
    media_type: MediaType,
    tmdb_id: int,
    season: int,
    episode: int,
) -> StreamSet:
    """The first provider's working sources; NoSources when none has any."""
    reasons, missing = [], 0
    for provider in providers:
        try:
            found = await provider.sources(media_type, tmdb_id, season, episode)
        except UpstreamNotFound as exc:
            missing += 1
            reasons.append(f"{provider.name}: not found ({exc})")
            continue
        except UpstreamError as exc:
            log.warning(
                "stream provider failed", extra={"provider": provider.name, "error": str(exc)}
            )
            reasons.append(str(exc))
            continue
        if found:
            return StreamSet(
                tmdb_id=tmdb_id, type=media_type, provider=provider.name, sources=found
            )
        reasons.append(f"{provider.name}: no sources")
    raise NoSources(reasons, not_found=bool(providers) and missing == len(providers))
