"""The node's own life: its graceful shutdown says when it starts and when it is over."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web

from server.app import create_app
from tests.conftest import make_settings


async def test_shutdown_logs_its_start_and_its_end(
    engines: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streamhub.app")
    runner = web.AppRunner(create_app(make_settings(engines)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    assert not [r for r in caplog.records if "shutdown" in r.getMessage()]
    await runner.cleanup()  # what SIGTERM runs in web.run_app
    said = [r.getMessage() for r in caplog.records if r.name == "streamhub.app"]
    assert [m for m in said if m.startswith("shutdown")] == [
        "shutdown started",
        "shutdown complete",
    ]
    done = next(r for r in caplog.records if r.getMessage() == "shutdown complete")
    assert done.duration_ms >= 0  # type: ignore[attr-defined]
