"""The settings of three domains, kept apart from server/config.py (which combines them into
`Settings`) so that neither module grows past a screenful of knobs: mail and accounts by email
(OpenCourse), the OnStream catalogue, and the media pipeline. Same rules as config.py: one
named field per knob, a safe default, the same names in `.env.example`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, NoDecode


class MailSettings(BaseSettings):
    # Mail (handlers/mail): SMTP when SMTP_HOST is set, else each message is written as an
    # .eml file under MAIL_DIR (default VAR_DIR/mail) and its path logged.
    smtp_host: str | None = Field(default=None, alias="SMTP_HOST")
    smtp_port: int = Field(default=587, ge=1, le=65535, alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: str | None = Field(default=None, alias="SMTP_PASSWORD")
    # auto: STARTTLS when the server offers it; always: refuse a server without it; never: plain;
    # tls: implicit TLS from the first byte (port 465).
    smtp_security: Literal["auto", "always", "never", "tls"] = Field(
        default="auto", alias="SMTP_SECURITY"
    )
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, le=300, alias="SMTP_TIMEOUT_SECONDS")
    mail_from: str = Field(default="Streamhub <no-reply@streamhub.localhost>", alias="MAIL_FROM")
    mail_dir: Path | None = Field(default=None, alias="MAIL_DIR")
    # A failed delivery is retried after ~base, 2*base, 4*base ... (capped at 30 min) seconds,
    # this many times in all: the defaults ride out an SMTP outage of about five hours.
    mail_max_attempts: int = Field(default=15, ge=1, le=100, alias="MAIL_MAX_ATTEMPTS")
    mail_retry_base_seconds: float = Field(
        default=10.0, gt=0, le=3600, alias="MAIL_RETRY_BASE_SECONDS"
    )
    # Where links in mail point: the address users reach this service at.
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    # A web app's own pages for the links, with `{token}` where the token goes (default: the
    # node's pages /verify-email and /reset-password, which call the API).
    verify_email_url: str | None = Field(default=None, alias="VERIFY_EMAIL_URL")
    password_reset_url: str | None = Field(default=None, alias="PASSWORD_RESET_URL")
    email_verification_ttl_hours: float = Field(
        default=48.0, gt=0, le=24 * 30, alias="EMAIL_VERIFICATION_TTL_HOURS"
    )
    password_reset_ttl_minutes: float = Field(
        default=60.0, gt=0, le=24 * 60, alias="PASSWORD_RESET_TTL_MINUTES"
    )
    # Reset mails one address can be sent per hour; requests beyond are answered the same way
    # and send nothing (so the form cannot be used to flood someone's mailbox).
    password_resets_per_hour: int = Field(default=3, ge=1, le=100, alias="PASSWORD_RESETS_PER_HOUR")
    # OpenCourse: whether an account must have confirmed its email address to enroll.
    enrollment_requires_verified_email: bool = Field(
        default=False, alias="ENROLLMENT_REQUIRES_VERIFIED_EMAIL"
    )


class CatalogueSettings(BaseSettings):
    # --- catalogue (OnStream, issue 11) --------------------------------------------------
    # Unset: the demo catalogue (handlers/catalogue/demo.py) instead of TMDb. A v3 key is sent
    # as `api_key`, a v4 read access token (a JWT) as `Authorization: Bearer`.
    tmdb_api_key: str | None = Field(default=None, alias="TMDB_API_KEY")
    tmdb_base_url: str = Field(default="https://api.themoviedb.org", alias="TMDB_BASE_URL")
    consumet_api_base: str = Field(default="https://api.consumet.org", alias="CONSUMET_API_BASE")
    # Consumet servers tried in order for stream sources (the next one when one fails).
    consumet_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["vidcloud", "upcloud"], alias="CONSUMET_SERVERS"
    )
    # OnStream's "Cache Strategy": how long each kind of entry is fresh.
    catalogue_metadata_ttl_seconds: float = Field(
        default=86400, gt=0, alias="CATALOGUE_METADATA_TTL_SECONDS"
    )
    catalogue_streams_ttl_seconds: float = Field(
        default=3600, gt=0, alias="CATALOGUE_STREAMS_TTL_SECONDS"
    )
    catalogue_search_ttl_seconds: float = Field(
        default=21600, gt=0, alias="CATALOGUE_SEARCH_TTL_SECONDS"
    )
    # How long past its TTL an entry is kept, to be served stale while the provider is down.
    catalogue_stale_keep_seconds: float = Field(
        default=7 * 86400, ge=0, alias="CATALOGUE_STALE_KEEP_SECONDS"
    )
    # A node keeps fresh entries it read in memory this long (0 = off), at most this many: no
    # Redis round trip for hot titles. An admin's cache clear reaches other nodes' copies
    # within this time.
    catalogue_local_cache_seconds: float = Field(
        default=5.0, ge=0, le=300, alias="CATALOGUE_LOCAL_CACHE_SECONDS"
    )
    catalogue_local_cache_entries: int = Field(
        default=10_000, ge=1, alias="CATALOGUE_LOCAL_CACHE_ENTRIES"
    )
    # How long a request waits for another node's fetch of the same entry before a 503.
    catalogue_wait_seconds: float = Field(default=10.0, gt=0, le=60, alias="CATALOGUE_WAIT_SECONDS")
    # Upstream calls (TMDb, Consumet): deadline per attempt, attempts, the longest Retry-After
    # a request waits for (longer ones fail at once and stale entries are served), the
    # outbound rate per process (TMDb allows about 40/s), and the circuit breaker.
    upstream_timeout_seconds: float = Field(
        default=4.0, gt=0, le=60, alias="UPSTREAM_TIMEOUT_SECONDS"
    )
    upstream_max_attempts: int = Field(default=2, ge=1, le=5, alias="UPSTREAM_MAX_ATTEMPTS")
    upstream_max_retry_after_seconds: float = Field(
        default=2.0, ge=0, le=60, alias="UPSTREAM_MAX_RETRY_AFTER_SECONDS"
    )
    tmdb_requests_per_second: float = Field(default=35.0, gt=0, alias="TMDB_REQUESTS_PER_SECOND")
    consumet_requests_per_second: float = Field(
        default=10.0, gt=0, alias="CONSUMET_REQUESTS_PER_SECOND"
    )
    upstream_failure_threshold: int = Field(default=5, ge=1, alias="UPSTREAM_FAILURE_THRESHOLD")
    upstream_circuit_reset_seconds: float = Field(
        default=30.0, gt=0, alias="UPSTREAM_CIRCUIT_RESET_SECONDS"
    )
    # The periodic `catalogue.warm` job refreshes trending, popular (this many pages) and
    # genres this often, well inside the metadata TTL (0 = no warming).
    catalogue_warm_interval_seconds: float = Field(
        default=3600, ge=0, alias="CATALOGUE_WARM_INTERVAL_SECONDS"
    )
    catalogue_warm_pages: int = Field(default=3, ge=1, le=50, alias="CATALOGUE_WARM_PAGES")
    # OnStream's "100 requests per minute per IP", on the catalogue and library endpoints.
    rate_limit_catalogue: str = Field(default="100/minute", alias="RATE_LIMIT_CATALOGUE")
    # JSON answers at least this long are compressed for clients that accept gzip/deflate
    # (0 = never).
    compress_min_bytes: int = Field(default=1024, ge=0, alias="COMPRESS_MIN_BYTES")


class MediaSettings(BaseSettings):
    # --- media pipeline (issue 10): CLUTCH's "File Storage & CDN" ---------------------------
    # Object storage. With neither AWS_ACCESS_KEY_ID nor AWS_ENDPOINT_URL set, `run.py` starts
    # an embedded S3-compatible server under VAR_DIR/s3 (devservices/s3.py) and fills these.
    aws_access_key_id: str | None = Field(default=None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(default=None, alias="AWS_SECRET_ACCESS_KEY")
    aws_s3_bucket: str = Field(default="clutch-platform-videos", alias="AWS_S3_BUCKET")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    # An S3-compatible service (MinIO, R2, rclone...); unset = AWS itself.
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    # Public base URL of the keys under `public/` in the bucket (results, thumbnails).
    cdn_base_url: str | None = Field(default=None, alias="CDN_BASE_URL")
    # Shared secret of POST /api/webhooks/video-processed (HMAC-SHA256); unset = webhook off.
    video_processing_webhook_secret: str | None = Field(
        default=None, alias="VIDEO_PROCESSING_WEBHOOK_SECRET"
    )
    # A webhook delivery whose signed timestamp is further than this from now is refused.
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=3600, alias="WEBHOOK_TOLERANCE_SECONDS"
    )
    # The ffmpeg binary; unset = the one the imageio-ffmpeg wheel ships.
    ffmpeg_path: str | None = Field(default=None, alias="FFMPEG_PATH")
    # Presigned PUT URLs (and multipart part URLs) are valid this long.
    upload_url_expire_seconds: int = Field(
        default=900, ge=10, le=7 * 86400, alias="UPLOAD_URL_EXPIRE_SECONDS"
    )
    # A multipart upload may take this long before it is abandoned (parts can be resumed
    # with fresh part URLs until then).
    multipart_upload_window_seconds: int = Field(
        default=86400, ge=60, le=7 * 86400, alias="MULTIPART_UPLOAD_WINDOW_SECONDS"
    )
    # Part size of multipart uploads (S3: at least 5 MiB except the last part).
    multipart_part_bytes: int = Field(
        default=64 * 1024**2, ge=5 * 1024**2, alias="MULTIPART_PART_BYTES"
    )
    # An upload not completed this long after its URL expired is deleted, with its object
    # and (for a video) its row, by the periodic `media.expire_uploads`.
    upload_cleanup_grace_seconds: int = Field(
        default=3600, ge=0, alias="UPLOAD_CLEANUP_GRACE_SECONDS"
    )
    media_cleanup_interval_seconds: float = Field(
        default=300.0, gt=0, alias="MEDIA_CLEANUP_INTERVAL_SECONDS"
    )
    # One transcode attempt is cancelled (and retried) after this long.
    transcode_timeout_seconds: float = Field(
        default=3600.0, gt=0, alias="TRANSCODE_TIMEOUT_SECONDS"
    )
    # Threads FFmpeg's encoders may use (0 = FFmpeg's choice: every core).
    transcode_threads: int = Field(default=0, ge=0, le=64, alias="TRANSCODE_THREADS")
