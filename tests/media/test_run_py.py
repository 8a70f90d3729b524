"""`python run.py` with no storage configured: it starts the embedded S3 server under
VAR_DIR/s3, its job worker gets the same store, a video goes from upload to playable HLS, and
the storage server stops with the node."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devservices.ports import pid_alive, read_int
from tests.conftest import TEST_SECRET
from tests.media.clips import make_clip
from tests.nodes import node_env, spawn_node, wait_ready
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(300)

ADMIN, PASSWORD = "media_admin", "Adm1n-Passw0rd-for-tests"


async def test_make_run_starts_its_own_s3_and_plays_the_result(
    engines: Any, tmp_path: Path
) -> None:
    clip = await asyncio.to_thread(
        make_clip, tmp_path / "clip.mp4", width=854, height=480, seconds=1.0
    )
    data = await asyncio.to_thread(clip.read_bytes)
    env = node_env(
        DATABASE_URL=engines.database_url,
        REDIS_URL=engines.redis_url,
        JWT_SECRET_KEY=TEST_SECRET,
        MIGRATE_ON_START="false",
        VAR_DIR=str(tmp_path / "var"),
        ADMIN_USERNAME=ADMIN,
        ADMIN_PASSWORD=PASSWORD,
        JOB_POLL_INTERVAL_SECONDS="0.2",
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "CDN_BASE_URL"):
        env.pop(name, None)
    proc, port = spawn_node(env)
    base = f"http://127.0.0.1:{port}"
    s3_pid: int | None = None
    try:
        await asyncio.to_thread(wait_ready, proc, port)
        s3_pid = read_int(tmp_path / "var" / "s3" / "s3.pid")
        assert s3_pid is not None and pid_alive(s3_pid)
        async with aiohttp.ClientSession() as http:
            login = await http.post(
                f"{base}/api/auth/login", json={"login": ADMIN, "password": PASSWORD}
            )
            token = (await login.json())["tokens"]["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            request = {"filename": "c.mp4", "file_size": len(data), "content_type": "video/mp4"}
            ticket = await (
                await http.post(f"{base}/api/upload/video/request", json=request, headers=headers)
            ).json()
            async with http.put(ticket["upload_url"], data=data, headers=ticket["headers"]) as r:
                assert r.status == 200
            done = await http.post(
                f"{base}/api/upload/{ticket['upload_id']}/complete", headers=headers
            )
            assert done.status == 200
            video: dict[str, Any] = {}

            async def ready() -> bool:
                async with http.get(
                    f"{base}/api/videos/{ticket['video_id']}", headers=headers
                ) as r:
                    video.update(await r.json())
                return video["processing_status"] in ("ready", "error")

            await wait_for(ready, within=180, interval=0.2, message="never processed")
            assert video["processing_status"] == "ready"
            async with http.get(video["video_url"]) as master:
                assert master.status == 200 and "#EXTM3U" in await master.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 60)
    assert s3_pid is not None

    async def stopped() -> bool:
        return not pid_alive(s3_pid)

    await wait_for(stopped, within=30, message="the embedded S3 outlived the node")
