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
from handlers.accounts import jobs as account_jobs
from handlers.accounts.email_service import AccountEmails, EmailPolicy
from handlers.accounts.privacy import AccountPrivacy
from handlers.accounts.service import AccountService
from handlers.admin.service import AdminService
from handlers.apikeys.service import ApiKeyService
from handlers.catalogue import jobs as catalogue_jobs
from handlers.catalogue.events import LibraryEvents
from handlers.catalogue.library import LibraryService
from handlers.catalogue.service import CatalogueService
from handlers.courses.service import CourseService
from handlers.health.service import HealthService
from handlers.live import jobs as live_jobs
from handlers.live.service import LiveService
from handlers.mail.service import MailService
from handlers.mail.transport import DirectoryTransport, SmtpTransport, Transport
from handlers.media import jobs as media_jobs
from handlers.media.events import MediaEvents
from handlers.media.service import MediaPolicy, MediaService
from handlers.social.comment_service import CommentService
from handlers.social.events import SocialEvents
from handlers.social.service import SocialService
from handlers.torrents.service import TorrentService
from handlers.videos import jobs as video_jobs
from handlers.videos.events import VideoEvents
from handlers.videos.lists import VideoLists
from handlers.videos.service import VideoService
from handlers.videos.view_buffer import ViewBuffer
from jobs import maintenance
from jobs.registry import JobKind
from objectstore.s3 import S3Config, S3Store
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
    privacy: AccountPrivacy
    courses: CourseService
    videos: VideoService
    comments: CommentService
    social: SocialService
    live: LiveService
    torrents: TorrentService
    api_keys: ApiKeyService
    admin: AdminService
    catalogue: CatalogueService
    library: LibraryService
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


def mail_transport(settings: Settings) -> Transport:
    if not settings.smtp_host:
        return DirectoryTransport(settings.mail_directory)
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        security=settings.smtp_security,
        timeout_s=settings.smtp_timeout_seconds,
    )


def account_emails(settings: Settings, pool: asyncpg.Pool) -> AccountEmails:
    if not settings.jwt_secret_key:
        raise ConfigError("JWT_SECRET_KEY must be resolved before the app is built")
    base = settings.base_url
    return AccountEmails(
        db=pool,
        secret=settings.jwt_secret_key,
        mail=MailService(transport=mail_transport(settings), sender=settings.mail_from),
        policy=EmailPolicy(
            verification_ttl_s=settings.email_verification_ttl_hours * 3600,
            reset_ttl_s=settings.password_reset_ttl_minutes * 60,
            resets_per_hour=settings.password_resets_per_hour,
            verify_link=settings.verify_email_url or f"{base}/verify-email?token={{token}}",
            reset_link=settings.password_reset_url or f"{base}/reset-password?token={{token}}",
            mail_max_attempts=settings.mail_max_attempts,
        ),
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
    catalogue = build_catalogue(settings, redis)
    courses = CourseService(
        db=pool, require_verified_email=settings.enrollment_requires_verified_email
    )
    accounts = AccountService(db=pool, tokens=tokens, emails=account_emails(settings, pool))
    privacy = AccountPrivacy(db=pool, publisher=publisher)
    health = HealthService(
        db=pool,
        redis=redis,
        timeout_s=settings.readyz_timeout_seconds,
        notes={"catalogue": catalogue.describe()},
    )
    comments = CommentService(db=pool, videos=videos, events=social_events)
    torrents = TorrentService(db=pool)
    api_keys = ApiKeyService(db=pool)
    admin = AdminService(
        db=pool, accounts=accounts, privacy=privacy, torrents=torrents, videos=videos,
        comments=comments, api_keys=api_keys, health=health,
    )  # fmt: skip
    store = object_store(settings)
    return Services(
        settings=settings,
        pool=pool,
        redis=redis,
        publisher=publisher,
        health=health,
        accounts=accounts,
        privacy=privacy,
        courses=courses,
        videos=videos,
        comments=comments,
        social=SocialService(db=pool, events=social_events, courses=courses),
        live=LiveService(db=pool, videos=videos, presence=presence, publisher=publisher),
        torrents=torrents,
        api_keys=api_keys,
        admin=admin,
        catalogue=catalogue,
        library=LibraryService(db=pool, catalogue=catalogue, events=LibraryEvents(publisher)),
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
        account_jobs.send_email_token_kind(
            emails=services.accounts.emails,
            retry_base_seconds=settings.mail_retry_base_seconds,
            timeout_seconds=settings.smtp_timeout_seconds * 4,
        ),
        account_jobs.prune_email_tokens_kind(emails=services.accounts.emails),
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
