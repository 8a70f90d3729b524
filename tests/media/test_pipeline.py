"""The whole pipeline end to end: request, PUT to the presigned URL over real HTTP, complete,
a real worker transcodes with FFmpeg, the HLS plays, the WebSocket saw progress then ready."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiohttp.test_utils import TestClient

from handlers.media.jobs import TranscodeOptions, transcode_kind
from server.app import DB, SERVICES
from tests.content import events, make_user
from tests.jobs_support import running_worker
from tests.media.clips import make_clip
from tests.media.test_uploads import put
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(300)

SECONDS, FPS = 2.0, 10


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(
        tmp_path_factory.mktemp("clips") / "clip.mp4",
        width=1280,
        height=720,
        seconds=SECONDS,
        fps=FPS,
    )


async def _upload(client: TestClient, headers: dict[str, str], data: bytes) -> dict[str, Any]:
    resp = await client.post(
        "/api/upload/video/request",
        json={"filename": "clip.mp4", "file_size": len(data), "content_type": "video/mp4"},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    ticket: dict[str, Any] = await resp.json()
    assert await put(ticket, data) == 200
    return ticket


async def _video(client: TestClient, video_id: str, headers: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = await (
        await client.get(f"/api/videos/{video_id}", headers=headers)
    ).json()
    return body


async def _settled(client: TestClient, video_id: str, headers: dict[str, str]) -> dict[str, Any]:
    async def done() -> bool:
        status = (await _video(client, video_id, headers))["processing_status"]
        return status in ("ready", "error")

    await wait_for(done, within=240, interval=0.2, message="processing never ended")
    return await _video(client, video_id, headers)


@contextlib.asynccontextmanager
async def socket(client: TestClient, headers: dict[str, str]) -> AsyncIterator[Any]:
    ws = await client.ws_connect("/ws", headers=headers)
    assert (await ws.receive_json(timeout=10))["type"] == "connected"
    try:
        yield ws
    finally:
        await ws.close()


async def _subscribe(ws: Any, channel: str) -> None:
    await ws.send_json({"type": "subscribe", "channel": channel, "id": channel})
    reply = await ws.receive_json(timeout=10)
    assert reply["type"] == "subscribed", reply


async def _until_final(ws: Any, channel: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["status"] not in ("ready", "error"):
        message = await ws.receive_json(timeout=240)
        if message.get("type") == "video_processing" and message["channel"] == channel:
            seen.append(message)
    return seen


async def _read_text(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as resp:
        assert resp.status == 200, url
        return await resp.text()


async def test_upload_transcode_and_play(client: TestClient, clip: Path, tmp_path: Path) -> None:
    author, headers = await make_user(client, role="creator")
    async with socket(client, headers) as ws:
        await _subscribe(ws, f"user:{author.id}")
        ticket = await _upload(client, headers, await asyncio.to_thread(clip.read_bytes))
        video_id = ticket["video_id"]
        await _subscribe(ws, f"video:{video_id}")
        done = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
        assert done.status == 200, await done.text()
        async with running_worker(client.app):
            on_user = await _until_final(ws, f"user:{author.id}")
            video = await _settled(client, video_id, headers)
    assert video["processing_status"] == "ready", video
    statuses = [m["status"] for m in on_user]
    assert statuses[0] == "processing" and statuses[-1] == "ready", statuses
    assert all(m["percent"] is not None for m in on_user)
    assert [m["percent"] for m in on_user] == sorted(m["percent"] for m in on_user)
    assert [
        e["status"]
        for e in events(client, f"video:{video_id}")
        if e.get("type") == "video_processing"
    ][-1] == "ready"

    # The ladder stops at the source's height (720): no 1080p and above.
    assert sorted(video["quality_variants"]) == ["480p", "720p"]
    assert video["duration"] == round(SECONDS)
    listed = await (await client.get("/api/videos")).json()
    assert [v["id"] for v in listed["videos"]] == [video_id]

    # Headers for a CDN, stored with the objects: playlists short-lived, the rest immutable.
    store = client.app[SERVICES].media.store
    keys = await store.list_keys(f"public/videos/{video_id}/")
    for key in keys:
        found = await store.head(key)
        assert found is not None
        immutable = "max-age=31536000, immutable" in found.cache_control
        assert immutable == (not key.endswith(".m3u8")), (key, found.cache_control)
    assert {key.rsplit(".", 1)[1] for key in keys} == {"m3u8", "ts", "jpg"}

    async with aiohttp.ClientSession() as http:
        master = await _read_text(http, video["video_url"])
        assert "#EXT-X-STREAM-INF" in master
        for rung, playlist_url in video["quality_variants"].items():
            assert playlist_url.rsplit("/", 1)[0] + "/index.m3u8" in [
                video["video_url"].rsplit("/", 1)[0] + "/" + line
                for line in master.splitlines()
                if line and not line.startswith("#")
            ]
            playlist = await _read_text(http, playlist_url)
            segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
            assert segments and "#EXT-X-ENDLIST" in playlist
            frames, height = 0, 0
            for name in segments:
                async with http.get(playlist_url.rsplit("/", 1)[0] + "/" + name) as resp:
                    assert resp.status == 200
                    path = tmp_path / f"{rung}-{name}"
                    await asyncio.to_thread(path.write_bytes, await resp.read())
                frames, height = await asyncio.to_thread(_count_frames, path, frames)
            assert height == int(rung.removesuffix("p"))
            # Every frame of the source is in each rendition (within a frame or two).
            assert abs(frames - SECONDS * FPS) <= 2, (rung, frames)
        async with http.get(video["thumbnail_url"]) as resp:
            assert resp.status == 200
            thumbnail = tmp_path / "thumbnail.jpg"
            await asyncio.to_thread(thumbnail.write_bytes, await resp.read())
    with av.open(str(thumbnail)) as image:
        frame = next(image.decode(video=0))
        assert frame.height > 0 and image.streams.video[0].codec_context.name == "mjpeg"


def _count_frames(path: Path, so_far: int) -> tuple[int, int]:
    with av.open(str(path)) as container:
        height = container.streams.video[0].codec_context.height
        return so_far + sum(1 for _ in container.decode(video=0)), height


async def test_a_file_that_is_not_a_video_ends_in_error(client: TestClient) -> None:
    _, headers = await make_user(client, role="creator")
    ticket = await _upload(client, headers, b"this is not a video at all" * 40)
    done = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    assert done.status == 200
    async with running_worker(client.app):
        video = await _settled(client, ticket["video_id"], headers)
    assert video["processing_status"] == "error"
    published = [
        e
        for e in events(client, f"video:{ticket['video_id']}")
        if e.get("type") == "video_processing"
    ]
    assert published[-1]["status"] == "error" and "not a readable video" in published[-1]["error"]
    reason = await client.app[DB].fetchval(
        "SELECT processing_error FROM videos WHERE id = $1::uuid", ticket["video_id"]
    )
    assert "not a readable video" in reason
    job = await client.app[DB].fetchrow(
        "SELECT state, attempts FROM jobs WHERE kind = 'media.transcode'"
    )
    assert (job["state"], job["attempts"]) == ("done", 1)  # not retried: it will not get better


async def test_ffmpeg_failing_on_every_attempt_ends_in_error(
    client: TestClient, clip: Path
) -> None:
    _, headers = await make_user(client, role="creator")
    ticket = await _upload(client, headers, await asyncio.to_thread(clip.read_bytes))
    done = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    assert done.status == 200
    failing = transcode_kind(
        media=client.app[SERVICES].media,
        options=TranscodeOptions(ffmpeg_path="/bin/false"),  # exits 1 whatever it is given
        timeout_seconds=60,
        max_attempts=2,
        backoff_base_seconds=0.01,
    )
    async with running_worker(client.app, [failing]):
        video = await _settled(client, ticket["video_id"], headers)
    assert video["processing_status"] == "error"
    reason = await client.app[DB].fetchval(
        "SELECT processing_error FROM videos WHERE id = $1::uuid", ticket["video_id"]
    )
    assert reason.startswith("processing failed: ffmpeg exited with 1")
    job = await client.app[DB].fetchrow(
        "SELECT state, attempts FROM jobs WHERE kind = 'media.transcode'"
    )
    assert (job["state"], job["attempts"]) == ("dead", 2)  # retried once, then given up
