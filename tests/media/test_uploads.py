"""Upload requests and completion (CLUTCH's "Upload Endpoints"), over real HTTP, with the
bytes PUT to the real S3-compatible server."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient

from devservices.stack import Engines
from handlers.media import cleanup
from server.app import DB, SERVICES, create_app
from storage import jobs as job_store
from tests.conftest import make_settings
from tests.content import error_of, make_user
from tests.jobs_support import running_worker
from tests.media.clips import make_image
from tests.media.conftest import storage_overrides
from tests.waiting import wait_for

VIDEO = {"filename": "holiday clip.mp4", "file_size": 1000, "content_type": "video/mp4"}


async def put(ticket: dict[str, Any], body: bytes) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.put(ticket["upload_url"], data=body, headers=ticket["headers"]) as resp,
    ):
        await resp.read()
        return resp.status


async def request_video(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    resp = await client.post("/api/upload/video/request", json=VIDEO | fields, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_request_answers_a_presigned_url_and_an_unlisted_video(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    ticket = await request_video(client, headers)
    assert set(ticket) >= {"upload_url", "video_id", "expires_at", "upload_id"}
    assert "X-Amz-Signature=" in ticket["upload_url"]
    assert ticket["headers"] == {"Content-Type": "video/mp4"}
    video = await client.get(f"/api/videos/{ticket['video_id']}", headers=headers)
    body = await video.json()
    assert body["processing_status"] == "uploaded"
    assert body["title"] == "holiday clip"
    # Not listed, and others cannot open it.
    listed = await (await client.get("/api/videos")).json()
    assert listed["videos"] == []
    assert (await client.get(f"/api/videos/{ticket['video_id']}")).status == 404


async def test_clutch_file_rules(client: TestClient) -> None:
    _, creator = await make_user(client, role="creator")
    _, viewer = await make_user(client)
    for wrong, field in (
        ({"content_type": "video/x-msvideo"}, "content_type"),
        ({"file_size": 2 * 1024**3 + 1}, "file_size"),
        ({"file_size": 0}, "file_size"),
        ({"filename": "  "}, "filename"),
    ):
        resp = await client.post("/api/upload/video/request", json=VIDEO | wrong, headers=creator)
        error = await error_of(resp, 400)
        assert field in error["field_errors"], error
    largest = await client.post(
        "/api/upload/video/request", json=VIDEO | {"file_size": 2 * 1024**3}, headers=creator
    )
    assert largest.status == 200
    resp = await client.post("/api/upload/video/request", json=VIDEO, headers=viewer)
    await error_of(resp, 403)
    assert (await client.post("/api/upload/video/request", json=VIDEO)).status == 401


async def test_sixth_upload_request_in_an_hour_is_429(
    aiohttp_client: Any, engines: Engines, s3: Any
) -> None:
    settings = make_settings(engines, **storage_overrides(s3), RATE_LIMIT_ENABLED=True)
    client = await aiohttp_client(create_app(settings))
    _, headers = await make_user(client, role="creator")
    # Invalid requests spend nothing from the uploads budget.
    for _ in range(3):
        bad = await client.post(
            "/api/upload/video/request",
            json=VIDEO | {"content_type": "text/plain"},
            headers=headers,
        )
        assert bad.status == 400
    for _ in range(5):
        await request_video(client, headers)
    resp = await client.post("/api/upload/video/request", json=VIDEO, headers=headers)
    error = await error_of(resp, 429)
    assert error["code"] == "RATE_LIMITED"
    assert "Retry-After" in resp.headers


async def test_complete_checks_the_object_then_enqueues_the_transcode(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    ticket = await request_video(client, headers)
    complete = f"/api/upload/{ticket['upload_id']}/complete"
    # Nothing uploaded yet: refused, and nothing queued.
    error = await error_of(await client.post(complete, headers=headers), 409)
    assert error["details"]["reason"] == "not_uploaded"
    assert await _transcode_jobs(client) == []
    assert await put(ticket, b"v" * 1000) == 200
    # Someone else cannot complete it.
    _, other = await make_user(client, role="creator")
    await error_of(await client.post(complete, headers=other), 404)
    resp = await client.post(complete, headers=headers)
    assert resp.status == 200, await resp.text()
    state = await resp.json()
    assert state["processing_status"] == "uploaded" and state["kind"] == "video"
    queued = await _transcode_jobs(client)
    assert [job.payload["video_id"] for job in queued] == [ticket["video_id"]]
    # Completing again changes nothing.
    assert (await client.post(complete, headers=headers)).status == 200
    assert len(await _transcode_jobs(client)) == 1


async def test_an_object_of_another_size_is_refused_and_deleted(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    ticket = await request_video(client, headers)
    upload = await client.app[SERVICES].media.store.presign_put(
        _key_of(client, ticket), content_type="video/mp4", content_length=10, expires_in=60
    )
    assert await put({"upload_url": upload, "headers": ticket["headers"]}, b"0123456789") == 200
    resp = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    error = await error_of(resp, 409)
    assert error["details"]["reason"] == "object_mismatch"
    assert await _transcode_jobs(client) == []


def _key_of(client: TestClient, ticket: dict[str, Any]) -> str:
    return f"uploads/{ticket['video_id']}/{ticket['upload_id']}.mp4"


async def _thumbnail(
    client: TestClient, headers: dict[str, str], video_id: str, data: bytes, **fields: Any
) -> dict[str, Any]:
    image = {"video_id": video_id, "filename": "t.png", "content_type": "image/png"} | fields
    resp = await client.post(
        "/api/upload/thumbnail/request", json=image | {"file_size": len(data)}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    ticket: dict[str, Any] = await resp.json()
    assert await put(ticket, data) == 200
    done = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    assert done.status == 200, await done.text()
    return ticket


async def test_thumbnails_are_checked_then_published(client: TestClient, tmp_path: Path) -> None:
    _, headers = await make_user(client, role="creator")
    _, stranger = await make_user(client, role="creator")
    ticket = await request_video(client, headers)
    image = {"video_id": ticket["video_id"], "filename": "t.png", "content_type": "image/png"}
    too_big = await client.post(
        "/api/upload/thumbnail/request",
        json=image | {"file_size": 10 * 1024**2 + 1},
        headers=headers,
    )
    assert "file_size" in (await error_of(too_big, 400))["field_errors"]
    theirs = await client.post(
        "/api/upload/thumbnail/request", json=image | {"file_size": 4}, headers=stranger
    )
    await error_of(theirs, 404)  # another's unlisted video does not exist for them
    png = await asyncio.to_thread(make_image, tmp_path / "t.png")
    fake = await _thumbnail(client, headers, ticket["video_id"], b"\x89PNG not really")
    real = await _thumbnail(client, headers, ticket["video_id"], png)
    async with running_worker(client.app):

        async def published() -> bool:
            video = await (
                await client.get(f"/api/videos/{ticket['video_id']}", headers=headers)
            ).json()
            return bool(video["thumbnail_url"])

        await wait_for(published, message="the thumbnail was never published")
        rows = {
            str(row["id"]): (row["state"], row["error"])
            for row in await client.app[DB].fetch("SELECT id, state, error FROM media_uploads")
        }

        async def checked() -> bool:
            state = await client.app[DB].fetchval(
                "SELECT state FROM media_uploads WHERE id = $1::uuid", fake["upload_id"]
            )
            return bool(state == "rejected")

        await wait_for(checked, message="the fake image was never rejected")
    video = await (await client.get(f"/api/videos/{ticket['video_id']}", headers=headers)).json()
    assert video["thumbnail_url"].endswith(
        f"/thumbnails/{ticket['video_id']}/{real['upload_id']}.png"
    )
    assert rows[real["upload_id"]][0] == "completed"
    async with aiohttp.ClientSession() as http, http.get(video["thumbnail_url"]) as resp:
        assert resp.status == 200 and await resp.read() == png
    store = client.app[SERVICES].media.store
    assert await store.list_keys(f"uploads/thumbnails/{ticket['video_id']}/") == []


async def test_uploads_never_completed_are_cleaned_up(client: TestClient) -> None:
    author, headers = await make_user(client, role="creator")
    abandoned = await request_video(client, headers)
    assert await put(abandoned, b"v" * 1000) == 200  # uploaded, never completed
    kept = await request_video(client, headers)
    assert await put(kept, b"v" * 1000) == 200
    ok = await client.post(f"/api/upload/{kept['upload_id']}/complete", headers=headers)
    assert ok.status == 200
    pool: asyncpg.Pool = client.app[DB]
    # Both URLs expired long ago (the clean-up only looks at expires_at).
    await pool.execute("UPDATE media_uploads SET expires_at = now() - interval '1 day'")
    media = client.app[SERVICES].media
    assert await cleanup.expire_uploads(media) == 1
    assert await media.store.head(_key_of(client, abandoned)) is None
    assert await media.store.head(_key_of(client, kept)) is not None
    gone = await client.get(f"/api/videos/{abandoned['video_id']}", headers=headers)
    assert gone.status == 404
    still = await client.get(f"/api/videos/{kept['video_id']}", headers=headers)
    assert still.status == 200
    total = await pool.fetchval("SELECT total_videos FROM users WHERE id = $1", author.id)
    assert total == 1
    late = await client.post(f"/api/upload/{abandoned['upload_id']}/complete", headers=headers)
    await error_of(late, 404)
    assert await cleanup.expire_uploads(media) == 0


async def _transcode_jobs(client: TestClient) -> list[job_store.Job]:
    rows = await client.app[DB].fetch("SELECT id FROM jobs WHERE kind = 'media.transcode'")
    found = [await job_store.get(client.app[DB], row["id"]) for row in rows]
    return [job for job in found if job is not None]


async def test_unknown_upload_is_404(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    resp = await client.post(f"/api/upload/{uuid.uuid4()}/complete", headers=headers)
    await error_of(resp, 404)


async def test_store_down_is_a_503_and_changes_nothing(
    aiohttp_client: Any, engines: Engines, s3: Any
) -> None:
    from devservices.ports import free_port

    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = make_settings(engines, **storage_overrides(s3) | {"AWS_ENDPOINT_URL": nobody})
    client = await aiohttp_client(create_app(settings))
    _, headers = await make_user(client, role="creator")
    ticket = await request_video(client, headers)  # signing needs no store
    resp = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    error = await error_of(resp, 503)
    assert error["code"] == "SERVICE_UNAVAILABLE" and "Retry-After" in resp.headers
    assert await _transcode_jobs(client) == []


async def test_an_upload_never_completed_by_its_client_is_found_by_the_poll(
    client: TestClient,
) -> None:
    _, headers = await make_user(client, role="creator")
    uploaded = await request_video(client, headers)
    assert await put(uploaded, b"v" * 1000) == 200
    not_yet = await request_video(client, headers)  # requested, nothing PUT
    media = client.app[SERVICES].media
    assert await media.complete_stray_uploads() == 0  # too recent: the client may still call
    await client.app[DB].execute("UPDATE media_uploads SET created_at = now() - interval '5 min'")
    assert await media.complete_stray_uploads() == 1
    queued = await _transcode_jobs(client)
    assert [job.payload["video_id"] for job in queued] == [uploaded["video_id"]]
    assert await media.complete_stray_uploads() == 0
    state = await client.app[DB].fetchval(
        "SELECT state FROM media_uploads WHERE id = $1::uuid", not_yet["upload_id"]
    )
    assert state == "pending"


async def test_a_deleted_videos_objects_are_swept(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    ticket = await request_video(client, headers)
    assert await put(ticket, b"v" * 1000) == 200
    done = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    assert done.status == 200
    media = client.app[SERVICES].media
    kept = await request_video(client, headers)
    assert await put(kept, b"k" * 1000) == 200
    assert (await client.delete(f"/api/videos/{ticket['video_id']}", headers=headers)).status == 200
    assert await media.store.head(_key_of(client, ticket)) is not None  # swept later, not inline
    await cleanup.expire_uploads(media)
    assert await media.store.list_keys(f"uploads/{ticket['video_id']}/") == []
    assert await media.store.head(_key_of(client, kept)) is not None
    assert await client.app[DB].fetchval("SELECT count(*) FROM media_deleted_videos") == 0
