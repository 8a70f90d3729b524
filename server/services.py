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
from handlers.health.service import HealthService
from handlers.live import jobs as live_jobs
from handlers.live.service import LiveService
from handlers.media import jobs as media_jobs
from handlers.media.events import MediaEvents
from handlers.media.service import MediaPolicy, MediaService
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
from objectstore.s3 import S3Config, S3Store
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
    media: MediaService
    # Started and closed by whoever runs the services (the app's clean-up, the worker).
    object_store: S3Store | None


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


def object_store(settings: Settings) -> S3Store | None:
    """The S3 store the settings name (None: no storage configured, uploads answer 503)."""
    if not (settings.aws_access_key_id or settings.aws_endpoint_url):
        return None
    bucket, endpoint = settings.aws_s3_bucket, settings.aws_endpoint_url
    default_public = (
        f"{endpoint.rstrip('/')}/{bucket}/public"
        if endpoint
        else f"https://{bucket}.s3.{settings.aws_region}.amazonaws.com/public"
    )
    return S3Store(
        S3Config(
            bucket=bucket,
            region=settings.aws_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            endpoint_url=endpoint,
            public_base_url=settings.cdn_base_url or default_public,
        )
    )


def media_policy(settings: Settings) -> MediaPolicy:
    return MediaPolicy(
        url_expire_seconds=settings.upload_url_expire_seconds,
        multipart_window_seconds=settings.multipart_upload_window_seconds,
        part_bytes=settings.multipart_part_bytes,
        cleanup_grace_seconds=settings.upload_cleanup_grace_seconds,
        webhook_secret=settings.video_processing_webhook_secret,
        webhook_tolerance_seconds=settings.webhook_tolerance_seconds,
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
    store = object_store(settings)
    return Services(
        settings=settings,
        pool=pool,
        redis=redis,
        publisher=publisher,
        health=HealthService(db=pool, redis=redis, timeout_s=settings.readyz_timeout_seconds),
        accounts=AccountService(db=pool, tokens=tokens),
        videos=videos,
        comments=CommentService(db=pool, videos=videos, events=social_events),
        social=SocialService(db=pool, events=social_events),
        live=LiveService(db=pool, videos=videos, presence=presence, publisher=publisher),
        media=MediaService(
            db=pool,
            store=store,
            videos=videos,
            events=MediaEvents(publisher),
            policy=media_policy(settings),
        ),
        object_store=store,
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
    if services.object_store is not None:
        kinds += [
            media_jobs.transcode_kind(
                media=services.media,
                options=media_jobs.TranscodeOptions(
                    ffmpeg_path=settings.ffmpeg_path, threads=settings.transcode_threads
                ),
                timeout_seconds=settings.transcode_timeout_seconds,
            ),
            media_jobs.thumbnail_kind(media=services.media),
            media_jobs.expire_uploads_kind(
                media=services.media, every_seconds=settings.media_cleanup_interval_seconds
            ),
        ]
    if settings.live_viewers_interval_seconds > 0:
        kinds.append(
            live_jobs.push_viewer_counts_kind(
                live=services.live, every_seconds=settings.live_viewers_interval_seconds
            )
        )
    return kinds
