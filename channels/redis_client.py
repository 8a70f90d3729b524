"""Redis clients whose every command has a deadline.

A request must never wait on Redis longer than it can afford: a paused or overloaded server
would otherwise hold each request for redis-py's defaults (a 5 s socket timeout, retried ten
times with backoff). The clients built here connect and read within `timeout_s` and retry at
once, once, only when a connection turns out to be broken (a pooled connection the server
closed, or Redis answering LOADING); a timeout is not retried, so `timeout_s` (twice at most,
for a broken connection then a slow one) bounds the wait of one command.

Pub/sub reads are exempt: redis-py reads a blocking `get_message(timeout=None)` with no
deadline, so an idle listener (channels/redis_broker.py) is never cut by `timeout_s`.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def command_client(url: str, *, timeout_s: float | None, **options: Any) -> Redis:
    """A client for commands, each answered, failed or timed out within about `timeout_s`
    (None: redis-py's defaults, for tools that may wait)."""
    if timeout_s is None:
        return Redis.from_url(url, **options)
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **options,
    )
