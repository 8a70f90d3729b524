"""The baseline for loadtests/fanout_bench.py: the least a Redis-backed broadcaster can do.

One aiohttp WebSocket endpoint, one Redis subscription, and for every publication one frame
built once and written to every socket's transport (skipping sockets with more than 1 MiB
unsent). No protocol, no auth, no history, no presence, no coalescing: the hub's ratio to this
is the cost of everything it does beyond moving bytes.

    python loadtests/baseline_broadcaster.py --port 8765 --redis redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from channels.frames import text_frame

CHANNEL = "bench"
MAX_PENDING = 1024 * 1024

SOCKETS = web.AppKey("sockets", set)


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    request.app[SOCKETS].add(request.transport)
    try:
        async for _ in ws:
            pass
    finally:
        request.app[SOCKETS].discard(request.transport)
    return ws


async def relay(app: web.Application, url: str) -> None:
    redis = Redis.from_url(url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    sockets = app[SOCKETS]
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
        if message is None:
            continue
        frame = text_frame(message["data"])
        for transport in sockets:
            if not transport.is_closing() and transport.get_write_buffer_size() <= MAX_PENDING:
                transport.write(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    args = parser.parse_args()
    app = web.Application()
    app[SOCKETS] = set()
    app.router.add_get("/ws", ws_handler)

    async def start_relay(app: web.Application):  # type: ignore[no-untyped-def]
        task = asyncio.create_task(relay(app, args.redis))
        yield
        task.cancel()

    app.cleanup_ctx.append(start_relay)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
