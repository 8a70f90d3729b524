"""The multipart variant: presigned part URLs, a dropped part sent again with a fresh URL,
then a complete with the parts' ETags, verified with HEAD like a single PUT."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from devservices.stack import Engines
from server.app import DB, create_app
from tests.conftest import make_settings
from tests.content import error_of, make_user
from tests.media.conftest import storage_overrides

PART = 5 * 1024 * 1024  # S3's smallest part


async def test_multipart_upload_survives_a_dropped_part(
    aiohttp_client: Any, engines: Engines, s3: Any
) -> None:
    settings = make_settings(engines, **storage_overrides(s3), MULTIPART_PART_BYTES=PART)
    client: TestClient = await aiohttp_client(create_app(settings))
    _, headers = await make_user(client, role="creator")
    data = b"m" * (2 * PART + 1234)
    resp = await client.post(
        "/api/upload/video/multipart/request",
        json={"filename": "big.mp4", "file_size": len(data), "content_type": "video/mp4"},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    ticket = await resp.json()
    assert [(p["part_number"], p["size"]) for p in ticket["parts"]] == [
        (1, PART), (2, PART), (3, 1234)
    ]  # fmt: skip
    upload_id = ticket["upload_id"]
    etags: dict[int, str] = {}
    async with aiohttp.ClientSession() as http:
        for part in ticket["parts"]:
            start = (part["part_number"] - 1) * PART
            chunk = data[start : start + part["size"]]
            if part["part_number"] == 2:
                # The connection drops mid-part: the store refuses a short body.
                async with http.put(part["upload_url"], data=chunk[: PART // 2]) as cut:
                    assert cut.status >= 400
                continue
            async with http.put(part["upload_url"], data=chunk) as sent:
                assert sent.status == 200, await sent.text()
                etags[part["part_number"]] = sent.headers["ETag"]
        # Completing without part 2 is refused; a fresh URL for it resumes the upload.
        parts = [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]
        early = await client.post(
            f"/api/upload/{upload_id}/complete", json={"parts": parts}, headers=headers
        )
        assert (await error_of(early, 409))["details"]["missing_parts"] == [2]
        fresh = await client.post(
            f"/api/upload/{upload_id}/parts", json={"part_numbers": [2]}, headers=headers
        )
        assert fresh.status == 200, await fresh.text()
        [again] = (await fresh.json())["parts"]
        async with http.put(again["upload_url"], data=data[PART : 2 * PART]) as sent:
            assert sent.status == 200
            etags[2] = sent.headers["ETag"]
    parts = [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]
    wrong = [
        p | {"etag": '"0123456789abcdef0123456789abcdef"'} if p["part_number"] == 1 else p
        for p in parts
    ]
    refused = await client.post(
        f"/api/upload/{upload_id}/complete", json={"parts": wrong}, headers=headers
    )
    assert (await error_of(refused, 409))["details"]["reason"] == "parts_differ"
    done = await client.post(
        f"/api/upload/{upload_id}/complete", json={"parts": parts}, headers=headers
    )
    assert done.status == 200, await done.text()
    queued = await client.app[DB].fetchval(
        "SELECT count(*) FROM jobs WHERE kind = 'media.transcode' AND payload->>'video_id' = $1",
        ticket["video_id"],
    )
    assert queued == 1
    bad = await client.post(
        f"/api/upload/{upload_id}/parts", json={"part_numbers": [4]}, headers=headers
    )
    await error_of(bad, 409)  # completed: no more parts
