"""Small asyncio helpers with no I/O of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await two independent operations concurrently (e.g. a Postgres and a Redis round trip).

    Unlike `asyncio.gather`, a failure of `first` cancels `second`, and the exception is raised
    as is (not wrapped in an ExceptionGroup as `TaskGroup` would), so domain errors such as
    NotFound still reach the error middleware unchanged.
    """
    task = asyncio.ensure_future(second)
    try:
        result = await first
    except BaseException:
        task.cancel()
        task.add_done_callback(_consume)
        raise
    return result, await task


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
