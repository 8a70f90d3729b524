"""Start a Streamhub node: `python run.py [serve|worker|migrate|seed] [--host H] [--port P]`.

`python run.py --workers N` serves the port with N node processes (server/workers.py).

`python run.py worker` runs background jobs (server/worker.py) until SIGTERM. `serve` also
starts one such worker beside the node unless WORKER_IN_NODE=false.

`python run.py seed --users N --videos M [--torrents T] [--reset]` migrates, then fills demo
data (`seed --torrents T` alone adds only torrents).

Reads settings from the environment, starts embedded Postgres/Redis when their URLs are unset,
and runs the app built by `server.app.create_app`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from aiohttp import web

from devservices.s3 import local_s3
from devservices.stack import dev_secret, local_engines
from server import logs
from server.app import create_app
from server.catalogue import seed_catalogue
from server.config import ConfigError, Settings
from server.http.serving import serve
from server.worker import run_worker
from server.workers import JobWorkerChild, Supervisor
from storage import db, migrate, seed, seed_torrents

log = logging.getLogger("streamhub.run")
RUN_PY = Path(__file__).resolve()


def catalogue_source(settings: Settings) -> str:
    return "TMDb" if settings.tmdb_api_key else "demo catalogue, TMDB_API_KEY unset"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "worker", "migrate", "seed"]
    )
    parser.add_argument("--host", help="overrides HOST")
    parser.add_argument("--port", type=int, help="overrides PORT")
    parser.add_argument(
        "--workers", type=int, default=1, help="serve: node processes sharing the port"
    )
    # Set by the --workers supervisor on its children (server/workers.py).
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=None, help="seed: accounts (default 100)")
    parser.add_argument("--videos", type=int, default=None, help="seed: videos (default 1000)")
    parser.add_argument(
        "--torrents", type=int, default=0, help="seed: torrents to add (alone: only torrents)"
    )
    parser.add_argument("--reset", action="store_true", help="seed: empty every table first")
    return parser.parse_args(argv)


async def run_migrations(database_url: str) -> list[int]:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            return await migrate.apply_pending(conn)
    finally:
        await pool.close()


async def _build(settings: Settings) -> web.Application:
    # Built inside the loop that serves it: the asyncpg pool binds to the running loop.
    app = create_app(settings)
    if settings.worker_in_node:
        JobWorkerChild(settings, RUN_PY).attach(app)
    return app


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the variable and the problem
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    try:
        if args.command != "worker":  # a job worker signs no tokens
            settings.require_strong_secret()
    except ConfigError as exc:
        log.error(str(exc))
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    no_storage = not (settings.aws_endpoint_url or settings.aws_access_key_id)
    with (
        local_engines(settings.var_dir, settings.database_url, settings.redis_url) as engines,
        local_s3(
            settings.var_dir,
            bucket=settings.aws_s3_bucket,
            wanted=no_storage and args.command in ("serve", "worker"),
        ) as s3,
    ):
        settings = settings.model_copy(
            update={
                "database_url": engines.database_url,
                "redis_url": engines.redis_url,
                "jwt_secret_key": settings.jwt_secret_key or dev_secret(settings.var_dir),
            }
        )
        if s3 is not None:
            settings = settings.model_copy(
                update={
                    "aws_endpoint_url": s3.endpoint_url,
                    "aws_access_key_id": s3.access_key_id,
                    "aws_secret_access_key": s3.secret_access_key,
                    "cdn_base_url": settings.cdn_base_url or s3.public_base_url,
                }
            )
        if args.command == "migrate":
            applied = asyncio.run(run_migrations(engines.database_url))
            log.info("migrations done", extra={"applied": applied})
            return 0
        if args.command == "seed":
            asyncio.run(run_migrations(engines.database_url))
            only_torrents = args.torrents and args.users is None and args.videos is None
            if not only_torrents:
                data = asyncio.run(
                    seed.command(
                        engines.database_url,
                        users=100 if args.users is None else args.users,
                        videos=1000 if args.videos is None else args.videos,
                        reset=args.reset,
                    )
                )
                # OnStream: lists warmed, and favorites and history for the first 50 accounts.
                filled = asyncio.run(seed_catalogue(settings, [u[0] for u in data.users[:50]]))
                print(
                    f"catalogue ({catalogue_source(settings)}): {filled['lists']} lists warmed,"
                    f" {filled['favorites']} favorites and {filled['history']} history entries"
                )
            if args.torrents:
                asyncio.run(seed_torrents.seed(engines.database_url, args.torrents))
            return 0
        if args.command == "worker":
            asyncio.run(run_worker(settings))
            return 0
        if args.workers > 1:
            asyncio.run(run_migrations(engines.database_url))
            return Supervisor(settings, args.workers, Path(__file__).resolve()).run()
        asyncio.run(
            serve(
                _build(settings),
                host=settings.host,
                port=settings.port,
                reuse_port=args.reuse_port or None,
                shutdown_timeout=settings.shutdown_timeout,
                on_listening=log.info,
            )
        )
    log.info("node stopped")  # after the app's "shutdown complete" and the embedded engines
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
