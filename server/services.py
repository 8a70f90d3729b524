"""Composition root, shared part: every domain's service built from the engines, once per
process. The node (server/app.py) serves them over HTTP; the job worker (server/worker.py)
runs their jobs with the same objects, so a rule lives in one place for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from redis.asyncio import Redis

from channels.presence import Presence
from channels.publisher import Publisher
from core.tokens import TokenService
from handlers.accounts.service import AccountService
from handlers.catalogue import jobs as catalogue_jobs
from handlers.catalogue.events import LibraryEvents
from handlers.catalogue.library import LibraryService
from handlers.catalogue.service import CatalogueService
from handlers.health.service import HealthService
from handlers.live import jobs as live_jobs
from handlers.live.service import LiveService
from handlers.social.comment_service import CommentService
from handlers.social.events import SocialEvents
from handlers.social.service import SocialService
from handlers.videos import jobs as video_jobs
from handlers.videos.events import VideoEvents
from handlers.videos.lists import VideoLists
from handlers.videos.service import VideoService
from handlers.videos.view_buffer import ViewBuffer
from jobs import maintenance
from jobs.registry import JobKind
from server.catalogue import build_catalogue
from server.config import ConfigError, Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    publisher: Publisher
    health: HealthService
    accounts: AccountService
    videos: VideoService
    comments: CommentService
    social: SocialService
    live: LiveService
    catalogue: CatalogueService
    library: LibraryService


def token_service(settings: Settings) -> TokenService:
    if not settings.jwt_secret_key:
        raise ConfigError("JWT_SECRET_KEY must be resolved before the app is built")
    return TokenService(
        secret=settings.jwt_secret_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(minutes=settings.access_token_expire_minutes),
        refresh_ttl=timedelta(days=settings.refresh_token_expire_days),
    )


def build_services(
    settings: Settings,
    *,
    pool: asyncpg.Pool,
    redis: Redis,
    tokens: TokenService,
    publisher: Publisher,
    presence: Presence,
) -> Services:
    lists = VideoLists.create(ttl=settings.list_cache_seconds, budget=settings.list_cache_max_bytes)
    views = ViewBuffer(
        redis,
        dedup_window_seconds=settings.view_dedup_window_seconds,
        anonymous_views_per_ip=settings.view_max_anonymous_per_ip,
    )
    videos = VideoService(db=pool, views=views, lists=lists, events=VideoEvents(publisher))
    social_events = SocialEvents(publisher)
    catalogue = build_catalogue(settings, redis)
    return Services(
        settings=settings,
        pool=pool,
        redis=redis,
        publisher=publisher,
        health=HealthService(
            db=pool,
            redis=redis,
            timeout_s=settings.readyz_timeout_seconds,
            notes={"catalogue": catalogue.describe()},
        ),
        accounts=AccountService(db=pool, tokens=tokens),
        videos=videos,
        comments=CommentService(db=pool, videos=videos, events=social_events),
        social=SocialService(db=pool, events=social_events),
        live=LiveService(db=pool, videos=videos, presence=presence, publisher=publisher),
        catalogue=catalogue,
        library=LibraryService(db=pool, catalogue=catalogue, events=LibraryEvents(publisher)),
    )


def job_kinds(services: Services) -> list[JobKind]:
    """Every job kind this deployment runs, each built from the domain's own service."""
    settings = services.settings
    kinds = [
        maintenance.prune_kind(retention_seconds=settings.job_done_retention_hours * 3600),
        video_jobs.flush_views_kind(
            views=services.videos.views,
            pool=services.pool,
            every_seconds=settings.view_flush_interval_seconds,
            recover_after_seconds=settings.view_batch_recover_after_seconds,
        ),
    ]
    if settings.catalogue_warm_interval_seconds > 0:
        kinds.append(
            catalogue_jobs.warm_kind(
                catalogue=services.catalogue,
                every_seconds=settings.catalogue_warm_interval_seconds,
                pages=settings.catalogue_warm_pages,
            )
        )
    if settings.live_viewers_interval_seconds > 0:
        kinds.append(
            live_jobs.push_viewer_counts_kind(
                live=services.live, every_seconds=settings.live_viewers_interval_seconds
            )
        )
    return kinds
