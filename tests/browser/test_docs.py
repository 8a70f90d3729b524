"""The API documentation renders in a real browser (not only a 200 for the HTML shell)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)


async def test_swagger_ui_renders_every_tag_and_the_operations(client: Any, page: Any) -> None:
    base = str(client.make_url("/"))
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(base + "documentation")
    # Swagger UI draws one block per operation once it has fetched and parsed the document.
    await page.wait_for_selector(".opblock", timeout=60_000)
    summaries = await page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/videos/{video_id}/like" in [s.replace("\u200b", "") for s in summaries]
    assert not await page.locator("text=Failed to load API definition").count()
    spec = await (await client.get("/openapi.json")).json()
    documented = sum(len(ops) for ops in spec["paths"].values())
    assert await page.locator(".opblock").count() == documented
    assert not [e for e in errors if "Content Security Policy" in e], errors
