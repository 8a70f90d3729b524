"""Response compression (OnStream's "Response compression"), for every JSON answer of every
contract: a body of at least `min_bytes` is sent gzip- (or deflate-) encoded when the request's
`Accept-Encoding` admits it with a non-zero q. Such answers say `Vary: Accept-Encoding`, so
caches keep the two forms apart.

Small bodies are sent as they are (a few hundred bytes gain nothing and cost a zlib stream).
aiohttp compresses bodies under 1 MiB on the event loop (about a tenth of a millisecond for
a 20-title page) and larger ones in a thread. Streams, files and WebSockets are untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_response import ContentCoding

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def chosen_coding(accept_encoding: str) -> ContentCoding | None:
    """gzip, else deflate, if the header accepts it (q > 0); None otherwise."""
    accepted: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        accepted[name.strip()] = q
    for coding in (ContentCoding.gzip, ContentCoding.deflate):
        q = accepted.get(coding.value, accepted.get("*", 0.0))
        if q > 0:
            return coding
    return None


def compression(min_bytes: int) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Compress JSON answers of at least `min_bytes` (0: never)."""

    @web.middleware
    async def compress(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (
            min_bytes > 0
            and type(response) is web.Response
            and not response.prepared
            and isinstance(response.body, bytes)
            and len(response.body) >= min_bytes
            and response.content_type == "application/json"
            and "Content-Encoding" not in response.headers
        ):
            response.headers.add("Vary", "Accept-Encoding")
            coding = chosen_coding(request.headers.get("Accept-Encoding", ""))
            if coding is not None:
                response.enable_compression(coding)
        return response

    return compress
