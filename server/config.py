"""Settings read from the environment (and `.env`), one named field per knob.

Every limit has a safe default here; `.env.example` lists the same names for operators.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import limits
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from server.domain_settings import CatalogueSettings, MailSettings, MediaSettings

# Secrets that appear in the contracts' examples: a node must never run on one outside dev mode.
KNOWN_PLACEHOLDER_SECRETS = frozenset(
    {
        "your_super_secret_key_here",
        "your_secret_key",
        "secret",
        "changeme",
        "change-me",
    }
)
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ConfigError(Exception):
    """The configuration cannot run a node; the message says what to change."""


class Settings(MailSettings, CatalogueSettings, MediaSettings, BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- process -------------------------------------------------------------------------
    app_env: Environment = Field(default=Environment.development, alias="APP_ENV")
    debug: bool = Field(default=False, alias="DEBUG")
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8000, ge=0, le=65535, alias="PORT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # Where embedded Postgres/Redis keep their data when the URLs below are unset.
    var_dir: Path = Field(default=Path("var"), alias="VAR_DIR")
    # Seconds a stopping node waits for in-flight requests before cancelling them.
    shutdown_timeout: float = Field(default=15.0, ge=0, alias="SHUTDOWN_TIMEOUT")

    # --- engines -------------------------------------------------------------------------
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    db_pool_min: int = Field(default=2, ge=1, alias="DB_POOL_MIN")
    db_pool_max: int = Field(default=10, ge=1, alias="DB_POOL_MAX")
    migrate_on_start: bool = Field(default=True, alias="MIGRATE_ON_START")
    # Deadlines that keep a request's wait bounded when an engine hangs (README "Failure
    # policy"); past one, the request answers 503 SERVICE_UNAVAILABLE with Retry-After.
    # Waiting for a pooled Postgres connection (connecting one included); also how long a
    # connection whose statement timed out waits for Postgres to confirm the cancel.
    db_acquire_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, alias="DB_ACQUIRE_TIMEOUT_SECONDS"
    )
    # One SQL statement of a request (the job worker and migrations are not bound by it).
    db_command_timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, alias="DB_COMMAND_TIMEOUT_SECONDS"
    )
    # Connecting to Redis, and each Redis command (pub/sub listeners wait while idle).
    redis_timeout_seconds: float = Field(default=1.0, gt=0, le=60, alias="REDIS_TIMEOUT_SECONDS")
    # GET /readyz answers within this, whatever the engines do (a slow check is a failure).
    readyz_timeout_seconds: float = Field(default=2.0, gt=0, le=60, alias="READYZ_TIMEOUT_SECONDS")

    # --- JWT (CLUTCH "JWT Configuration") ------------------------------------------------
    jwt_secret_key: str | None = Field(default=None, alias="JWT_SECRET_KEY")
    jwt_algorithm: str = Field(default="HS256", alias="JWT_ALGORITHM")
    access_token_expire_minutes: int = Field(
        default=15, ge=1, le=1440, alias="ACCESS_TOKEN_EXPIRE_MINUTES"
    )
    refresh_token_expire_days: int = Field(
        default=7, ge=1, le=90, alias="REFRESH_TOKEN_EXPIRE_DAYS"
    )
    jwt_issuer: str = Field(default="clutch-platform", alias="JWT_ISSUER")
    jwt_audience: str = Field(default="clutch-users", alias="JWT_AUDIENCE")

    # --- HTTP edges ----------------------------------------------------------------------
    # Origins answered with credentials allowed; "*" admits any other origin without them.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="CORS_ORIGINS")
    api_version: str = Field(default="v1", alias="API_VERSION")
    # Largest request body accepted; anything bigger is a 413 before the handler runs.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, alias="MAX_BODY_BYTES")

    # --- bootstrap admin (OnStream) ------------------------------------------------------
    admin_username: str | None = Field(default=None, alias="ADMIN_USERNAME")
    admin_password: str | None = Field(default=None, alias="ADMIN_PASSWORD")
    admin_email: str | None = Field(default=None, alias="ADMIN_EMAIL")

    # --- operations (issue 5) -----------------------------------------------------------
    # Rate limits use `limits` syntax ("10/minute", "5 per hour"); defaults are CLUTCH's
    # "Rate Limiting". Budgets live in Redis, so every node shares one.
    rate_limit_enabled: bool = Field(default=True, alias="RATE_LIMIT_ENABLED")
    rate_limit_auth: str = Field(default="10/minute", alias="RATE_LIMIT_AUTH")  # per IP
    rate_limit_uploads: str = Field(default="5/hour", alias="RATE_LIMIT_UPLOADS")  # per user
    rate_limit_comments: str = Field(default="30/hour", alias="RATE_LIMIT_COMMENTS")  # per user
    rate_limit_likes: str = Field(default="100/minute", alias="RATE_LIMIT_LIKES")  # per user
    # The scraper's ingest batches, per API key.
    rate_limit_ingest: str = Field(default="120/minute", alias="RATE_LIMIT_INGEST")
    # Every /api request: per user when signed in, per client IP otherwise.
    rate_limit_general: str = Field(default="1000/hour", alias="RATE_LIMIT_GENERAL")
    # A rate-limit check Redis has not answered within this is skipped (fails open, logged).
    rate_limit_timeout_seconds: float = Field(
        default=0.25, gt=0, le=10, alias="RATE_LIMIT_TIMEOUT_SECONDS"
    )
    # Peers (IPs or CIDRs) whose X-Forwarded-For is believed; empty = use the socket's peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="TRUSTED_PROXIES"
    )
    # WebSocket hub: frames a client may send per second (burst = one second's worth), and
    # simultaneous connections per user across all nodes.
    ws_max_messages_per_second: float = Field(
        default=20.0, gt=0, alias="WS_MAX_MESSAGES_PER_SECOND"
    )
    ws_max_connections_per_user: int = Field(default=10, ge=1, alias="WS_MAX_CONNECTIONS_PER_USER")
    # Simultaneous anonymous WebSockets per client IP across all nodes (the IP as for rate
    # limits: X-Forwarded-For only from TRUSTED_PROXIES). Users behind one NAT share it.
    ws_max_anonymous_connections_per_ip: int = Field(
        default=20, ge=1, alias="WS_MAX_ANONYMOUS_CONNECTIONS_PER_IP"
    )
    # GET /metrics answers callers from these networks, or any caller with the bearer token.
    metrics_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"], alias="METRICS_ALLOWED_NETWORKS"
    )
    metrics_token: str | None = Field(default=None, alias="METRICS_TOKEN")

    # --- content (issue 3) ----------------------------------------------------------------
    # Seconds between flushes of the view counts buffered in Redis into Postgres.
    view_flush_interval_seconds: float = Field(
        default=2.0, gt=0, le=3600, alias="VIEW_FLUSH_INTERVAL_SECONDS"
    )
    # The same viewer (account; anonymous: IPv4 address or IPv6 /64, whatever its user agent)
    # counts once per video in this window.
    view_dedup_window_seconds: int = Field(
        default=3600, ge=1, le=30 * 86400, alias="VIEW_DEDUP_WINDOW_SECONDS"
    )
    # Anonymous views one IPv4 address or IPv6 /64 may add per window, across all videos;
    # views past it are answered but not counted. Signed-in views are not capped by it.
    view_max_anonymous_per_ip: int = Field(
        default=100, ge=1, le=1_000_000, alias="VIEW_MAX_ANONYMOUS_PER_IP"
    )
    # A view batch some node started flushing this long ago and never finished (the node
    # died) is applied by the next node that flushes. Applying is idempotent either way.
    view_batch_recover_after_seconds: float = Field(
        default=30.0, ge=0, alias="VIEW_BATCH_RECOVER_AFTER_SECONDS"
    )
    # GET /api/videos answers (pages and totals) are reused by a node for this long; a node
    # that writes a video forgets its own at once (handlers/video_lists.py). 0 = off.
    list_cache_seconds: float = Field(default=5.0, ge=0, le=300, alias="LIST_CACHE_SECONDS")
    # Memory those cached pages may take on a node (a 20-video page is about 20 KB).
    list_cache_max_bytes: int = Field(default=16 * 1024 * 1024, ge=0, alias="LIST_CACHE_MAX_BYTES")

    # --- realtime (issue 4) ---------------------------------------------------------------
    # memory: one process only (tests, demos); redis: pub/sub + streams, any number of nodes.
    broker: Literal["memory", "redis"] = Field(default="redis", alias="BROKER")
    # Protocol-level ping every N seconds; a client that misses the pong is disconnected.
    ws_heartbeat_seconds: float = Field(default=25.0, gt=0, alias="WS_HEARTBEAT_SECONDS")
    # Largest frame a client may send; bigger ones close the socket with 1009.
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024, alias="WS_MAX_MESSAGE_BYTES")
    # Unsent bytes a socket may hold before it is closed with 4008 (slow consumer).
    ws_max_pending_bytes: int = Field(default=1024 * 1024, ge=4096, alias="WS_MAX_PENDING_BYTES")
    # How long a closing handshake may take before the connection is dropped.
    ws_close_timeout_seconds: float = Field(default=5.0, gt=0, alias="WS_CLOSE_TIMEOUT_SECONDS")
    ws_max_subscriptions: int = Field(default=64, ge=1, alias="WS_MAX_SUBSCRIPTIONS")
    # After `token_expired`, time the client has to send a fresh token before a 1008 close.
    ws_token_grace_seconds: float = Field(default=30.0, ge=0, alias="WS_TOKEN_GRACE_SECONDS")
    # At most this many video_update messages per second per channel (0 = no coalescing).
    coalesce_hz: float = Field(default=10.0, ge=0, alias="COALESCE_HZ")
    # Publications kept per channel for recovery (approximate, Redis MAXLEN ~) and how long
    # a quiet channel's history lives.
    history_size: int = Field(default=1000, ge=1, alias="HISTORY_SIZE")
    history_ttl_seconds: int = Field(default=3600, ge=0, alias="HISTORY_TTL_SECONDS")
    # Each node rewrites its presence entries every heartbeat; a dead node's expire after TTL.
    presence_heartbeat_seconds: float = Field(default=5.0, gt=0, alias="PRESENCE_HEARTBEAT_SECONDS")
    presence_ttl_seconds: float = Field(default=15.0, gt=0, alias="PRESENCE_TTL_SECONDS")
    # While a video is live, its viewer count is pushed (live_stream) when it changes, at most
    # once per this many seconds per video across all nodes (0 = only on live/offline).
    live_viewers_interval_seconds: float = Field(
        default=1.0, ge=0, alias="LIVE_VIEWERS_INTERVAL_SECONDS"
    )

    # --- jobs (house issue, part 5) -------------------------------------------------------
    # `run.py serve` (also with --workers N) starts one job worker process beside the node, so
    # a single command runs a whole system. Set false where `run.py worker` runs separately.
    worker_in_node: bool = Field(default=True, alias="WORKER_IN_NODE")
    # Jobs one worker process runs at once.
    job_worker_concurrency: int = Field(default=4, ge=1, le=256, alias="JOB_WORKER_CONCURRENCY")
    # A worker holds a job this long between heartbeats (every third of it); a job whose worker
    # died is retried by another about this long after the worker's last heartbeat. A kind may
    # set its own (jobs.JobKind.lease_seconds).
    job_lease_seconds: float = Field(default=30.0, gt=0, le=3600, alias="JOB_LEASE_SECONDS")
    # Idle workers are woken by NOTIFY at each enqueue's commit; this poll is the fallback.
    job_poll_interval_seconds: float = Field(
        default=2.0, gt=0, le=300, alias="JOB_POLL_INTERVAL_SECONDS"
    )
    # On SIGTERM a worker stops claiming and lets running jobs finish for this long, then
    # cancels them and puts them back in the queue (the attempt is not counted).
    job_shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, le=3600, alias="JOB_SHUTDOWN_GRACE_SECONDS"
    )
    # Done jobs are deleted this long after they finished (the periodic `jobs.prune` job).
    # Dead jobs are kept until someone deletes them.
    job_done_retention_hours: float = Field(default=168.0, gt=0, alias="JOB_DONE_RETENTION_HOURS")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator(
        "trusted_proxies", "metrics_allowed_networks", "consumet_servers", mode="before"
    )
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies", "metrics_allowed_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator(
        "rate_limit_auth",
        "rate_limit_uploads",
        "rate_limit_comments",
        "rate_limit_likes",
        "rate_limit_ingest",
        "rate_limit_general",
        "rate_limit_catalogue",
    )
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        limits.parse(value)  # ValueError on anything that is not "N/period"
        return value

    @field_validator("jwt_algorithm")
    @classmethod
    def _only_hs256(cls, value: str) -> str:
        # The algorithm is pinned: accepting others invites algorithm-confusion attacks.
        if value != "HS256":
            raise ValueError("only HS256 is supported")
        return value

    @property
    def base_url(self) -> str:
        """PUBLIC_BASE_URL, or where this node listens."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def mail_directory(self) -> Path:
        return self.mail_dir or self.var_dir / "mail"

    @property
    def is_dev(self) -> bool:
        return self.app_env is not Environment.production

    def require_strong_secret(self) -> None:
        """Refuse to run a production node on a missing, placeholder or short JWT secret."""
        if self.is_dev:
            return
        secret = self.jwt_secret_key
        if not secret:
            raise ConfigError(
                "JWT_SECRET_KEY is not set. Outside development (APP_ENV=production) the node "
                "needs a random secret of at least 32 characters, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        if secret.lower() in KNOWN_PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"JWT_SECRET_KEY is too weak: use a random value of at least {MIN_SECRET_LENGTH} "
                "characters, not a placeholder from an example file."
            )
