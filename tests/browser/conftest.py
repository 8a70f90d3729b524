"""Browser tier: Playwright driving a Chromium this machine has (it cannot download its own).

The browser is found at CHROMIUM_PATH, else `chromium-headless-shell` or `chromium` on PATH
(Debian's packages; `.ci/run` installs the first when missing). Without one, every test here
is skipped and `make test` says so in its summary (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

# Flags the machine needs: no sandbox as root, and no background traffic to Google's hosts
# (the closed network refuses it, many connections at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        return given if os.path.exists(given) else None
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (install chromium-headless-shell or set CHROMIUM_PATH)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context()
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture(autouse=True)
def _clean(clean_state: None) -> None:
    """Every browser test starts from empty tables and an empty Redis database."""
