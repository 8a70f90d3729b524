"""Serving an app: requests aiohttp's HTTP parser refuses still answer in the error format.

A request line over 8 KiB, an unknown method or `Transfer-Encoding` beside `Content-Length`
never reaches the app: aiohttp's protocol answers it itself, in text/plain, without the
security headers, echoing the request and logging a traceback at error level. Those are a
client's mistakes (or a scanner's), so `ApiRequestHandler` answers them like any other bad
request: CLUTCH's error body, the security headers, one log line at info. Failures with status
500 keep aiohttp's handling, which logs them at error level as they deserve.

`serve` (run with `asyncio.run`) replaces `web.run_app` so that a node is served by this
handler; it keeps run_app's contract (SIGINT/SIGTERM stop the node gracefully, with
`shutdown_timeout` for requests in flight).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from server.http.middleware import SECURITY_HEADERS, SERVER_NAME, status_code
from server.http.responses import error_response

log = logging.getLogger("streamhub.http")


class ApiRequestHandler(RequestHandler):
    """aiohttp's connection handler, with the parser's refusals in the error format."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500 or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        log.info(
            "refused a malformed request",
            extra={"status": status, "error": type(exc).__name__ if exc else message},
        )
        reason = getattr(exc, "message", None) or "Malformed HTTP request"
        response = error_response(
            status,
            status_code(status),
            # The parser's message only: never the request bytes it may quote.
            str(reason).split(":", 1)[0][:200],
            headers={**SECURITY_HEADERS, "Server": SERVER_NAME},
        )
        response.force_close()
        return response


class _ApiServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ApiRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiAppRunner(web.AppRunner):
    """An AppRunner whose connections are handled by `ApiRequestHandler`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its Server in one private call; re-classing the result (no state is
        # added) is the narrowest way to choose the connection handler it creates.
        server.__class__ = _ApiServer
        return server


async def serve(
    built: Awaitable[web.Application],
    *,
    host: str,
    port: int,
    reuse_port: bool | None,
    shutdown_timeout: float,
    on_listening: Callable[[str], Any],
) -> None:
    """Serve until SIGINT or SIGTERM, then stop gracefully (as `web.run_app` does)."""
    app = await built
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = ApiAppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port)
        await site.start()
        on_listening(f"serving on http://{host}:{port}")
        await stop.wait()
    finally:
        await runner.cleanup()
