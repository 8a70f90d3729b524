"""A transcode whose worker is killed mid-job (SIGKILL, FFmpeg with it) is finished by
another `run.py worker`, and the video ends with one set of results."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.app import DB, SERVICES
from tests.conftest import TEST_SECRET
from tests.content import make_user
from tests.media.clips import make_clip
from tests.media.conftest import storage_overrides
from tests.media.test_pipeline import _upload
from tests.nodes import ROOT, node_env
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(300)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own, so that the worker and its FFmpeg can be killed together.
    return subprocess.Popen(
        [sys.executable, "run.py", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


async def test_killed_worker_still_yields_one_ready_video(
    client: TestClient, engines: Any, s3: Any, tmp_path: Path
) -> None:
    clip = await asyncio.to_thread(
        make_clip, tmp_path / "clip.mp4", width=854, height=480, seconds=4.0, fps=15
    )
    env = node_env(
        DATABASE_URL=engines.database_url,
        REDIS_URL=engines.redis_url,
        JWT_SECRET_KEY=TEST_SECRET,
        MIGRATE_ON_START="false",
        JOB_LEASE_SECONDS="2",
        JOB_POLL_INTERVAL_SECONDS="0.2",
        **{k: str(v) for k, v in storage_overrides(s3).items()},
    )
    _, headers = await make_user(client, role="creator")
    ticket = await _upload(client, headers, await asyncio.to_thread(clip.read_bytes))
    video_id = ticket["video_id"]
    pool = client.app[DB]
    done = await client.post(f"/api/upload/{ticket['upload_id']}/complete", headers=headers)
    assert done.status == 200

    async def status() -> str:
        found: str = await pool.fetchval(
            "SELECT processing_status FROM videos WHERE id = $1::uuid", video_id
        )
        return found

    first = _worker(env)
    try:

        async def processing() -> bool:
            return await status() == "processing"

        await wait_for(processing, within=120, interval=0.01, message="no worker took the job")
        os.killpg(first.pid, signal.SIGSTOP)  # frozen at once, then killed with its FFmpeg
        assert await status() == "processing", "the job ended before the worker was stopped"
        _kill_group(first)
    finally:
        if first.poll() is None:
            _kill_group(first)
    second = _worker(env)
    try:

        async def settled() -> bool:
            return await status() in ("ready", "error")

        await wait_for(settled, within=240, interval=0.2, message="the job was never finished")
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 60)
    assert await status() == "ready"
    job = await pool.fetchrow(
        "SELECT state, attempts, last_error FROM jobs WHERE kind = $1", "media.transcode"
    )
    assert job["state"] == "done" and job["attempts"] == 2, dict(job)
    assert "expired" in (job["last_error"] or "")
    video = await (await client.get(f"/api/videos/{video_id}", headers=headers)).json()
    assert sorted(video["quality_variants"]) == ["480p"]
    # One run's results only: whatever the killed run had uploaded was deleted.
    store = client.app[SERVICES].media.store
    runs = {key.split("/")[3] for key in await store.list_keys(f"public/videos/{video_id}/")}
    assert len(runs) == 1 and video["video_url"].split("/")[-2] in runs
