"""Waiting on a condition, never on a number of seconds: tests pass on a loaded machine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# Generous: a condition that holds on an idle machine in milliseconds may take seconds when
# another process keeps the cores busy. Only a real failure waits this long.
DEFAULT_TIMEOUT_S = 30.0


async def wait_for(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.02,
    message: str = "condition not met",
) -> None:
    """Poll `condition` until it is true; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {within} s")
        await asyncio.sleep(interval)
