"""POST /api/webhooks/video-processed: CLUTCH's payload, HMAC-signed with a timestamp,
idempotent, applying the same state change as our worker."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp.test_utils import TestClient

from core import webhooks
from server.app import DB, SETTINGS
from tests.content import error_of, events, make_user
from tests.media.test_uploads import request_video

CDN = "https://cdn.example.com/videos/abc"


def _payload(video_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "video_id": video_id,
        "status": "success",
        "quality_variants": {"480p": f"{CDN}/480p.m3u8", "720p": f"{CDN}/720p.m3u8"},
        "duration": 61.4,
        "thumbnail_url": f"{CDN}/thumb.jpg",
    } | fields


async def _deliver(
    client: TestClient,
    payload: dict[str, Any],
    *,
    at: float | None = None,
    secret: str | None = None,
) -> Any:
    body = orjson.dumps(payload)
    secret = secret or client.app[SETTINGS].video_processing_webhook_secret or ""
    header = webhooks.sign(secret, int(at if at is not None else time.time()), body)
    return await client.post(
        "/api/webhooks/video-processed",
        data=body,
        headers={"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: header},
    )


async def _row(client: TestClient, video_id: str) -> dict[str, Any]:
    row = await client.app[DB].fetchrow(
        "SELECT processing_status, video_url, quality_variants, duration, thumbnail_url,"
        " processing_error, updated_at FROM videos WHERE id = $1::uuid",
        video_id,
    )
    return dict(row)


async def test_bad_signature_or_old_timestamp_is_401_and_changes_nothing(
    client: TestClient,
) -> None:
    _, headers = await make_user(client, role="creator")
    video_id = (await request_video(client, headers))["video_id"]
    before = await _row(client, video_id)
    payload = _payload(video_id)
    for resp in (
        await _deliver(client, payload, secret="not-the-secret"),
        await _deliver(client, payload, at=time.time() - 3600),
        await client.post("/api/webhooks/video-processed", json=payload),
    ):
        error = await error_of(resp, 401)
        assert error["code"] == "UNAUTHORIZED"
    # Tampered body with a valid signature of another body.
    body = orjson.dumps(payload)
    header = webhooks.sign(
        client.app[SETTINGS].video_processing_webhook_secret or "", int(time.time()), body
    )
    tampered = body.replace(b"61.4", b"99.0")
    resp = await client.post(
        "/api/webhooks/video-processed",
        data=tampered,
        headers={"Content-Type": "application/json", webhooks.SIGNATURE_HEADER: header},
    )
    await error_of(resp, 401)
    assert await _row(client, video_id) == before


async def _feed(client: TestClient, headers: dict[str, str]) -> list[str]:
    feed = await (await client.get("/api/users/me/following/videos", headers=headers)).json()
    return [video["id"] for video in feed["videos"]]


async def test_success_makes_the_video_ready_once(client: TestClient) -> None:
    author, headers = await make_user(client, role="creator")
    _, follower = await make_user(client)
    followed = await client.post(f"/api/users/{author.id}/follow", headers=follower)
    assert followed.status == 200, await followed.text()
    video_id = (await request_video(client, headers))["video_id"]
    assert await _feed(client, follower) == []  # not while it is only uploaded
    resp = await _deliver(client, _payload(video_id))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["applied"] is True
    row = await _row(client, video_id)
    assert row["processing_status"] == "ready"
    assert row["video_url"] == f"{CDN}/720p.m3u8"  # no master given: the highest variant
    assert row["duration"] == 61 and row["thumbnail_url"] == f"{CDN}/thumb.jpg"
    listed = await (await client.get("/api/videos")).json()
    assert [v["id"] for v in listed["videos"]] == [video_id]
    assert await _feed(client, follower) == [video_id]
    published = [e for e in events(client, f"user:{author.id}") if e["type"] == "video_processing"]
    assert [(e["status"], e["percent"]) for e in published] == [("ready", 100.0)]
    # The same delivery again (a retry, or a replay inside the window): nothing changes.
    again = await _deliver(client, _payload(video_id), at=time.time())
    assert (await again.json())["applied"] is False
    assert await _row(client, video_id) == row
    assert (
        len([e for e in events(client, f"user:{author.id}") if e["type"] == "video_processing"])
        == 1
    )


async def test_error_result_and_unknown_video(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    video_id = (await request_video(client, headers))["video_id"]
    failed = _payload(
        video_id, status="error", quality_variants={}, error_message="codec unsupported"
    )
    resp = await _deliver(client, failed)
    assert (await resp.json())["applied"] is True
    row = await _row(client, video_id)
    assert (row["processing_status"], row["processing_error"]) == ("error", "codec unsupported")
    missing = await _deliver(client, _payload(str(uuid.uuid4())))
    await error_of(missing, 404)
    invalid = await _deliver(client, _payload(video_id, status="maybe"))
    assert "status" in (await error_of(invalid, 400))["field_errors"]
    empty = await _deliver(client, _payload(video_id, quality_variants={}))
    await error_of(empty, 400)
