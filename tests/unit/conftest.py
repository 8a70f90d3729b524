"""The unit tier: pure logic, no Postgres, no Redis, no server; runs in seconds.

The engine fixtures are replaced here by ones that fail, so a unit test that reaches for an
engine is caught at once instead of silently starting servers.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def engines() -> None:
    pytest.fail("unit tests run without Postgres or Redis: move this test to another tier")


@pytest.fixture
def clean_state() -> None:
    pytest.fail("unit tests run without Postgres or Redis: move this test to another tier")
