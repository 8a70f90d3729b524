"""Job workers as real processes: SIGKILL mid-job, SIGTERM, `run.py worker`, `make run`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devservices.ports import pid_alive
from jobs.maintenance import PRUNE_KIND
from storage import jobs as store
from tests.conftest import TEST_SECRET
from tests.jobs.conftest import wait_for
from tests.jobs.worker_process import BLOCK_KIND
from tests.nodes import ROOT, node_env, spawn_node, wait_ready

pytestmark = pytest.mark.timeout(180)


def _env(engines: Any, **overrides: str) -> dict[str, str]:
    return node_env(
        DATABASE_URL=engines.database_url,
        REDIS_URL=engines.redis_url,
        JWT_SECRET_KEY=TEST_SECRET,
        MIGRATE_ON_START="false",
        JOB_POLL_INTERVAL_SECONDS="0.2",
        **overrides,
    )


def _start(env: dict[str, str], *command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _test_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return _start(env, "-m", "tests.jobs.worker_process")


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


async def _exit_code(proc: subprocess.Popen[bytes]) -> int:
    return await asyncio.to_thread(proc.wait, 60)


async def _job_where(pool: asyncpg.Pool, job_id: Any, **expected: Any) -> store.Job | None:
    job = await store.get(pool, job_id)
    assert job is not None
    return job if all(getattr(job, k) == v for k, v in expected.items()) else None


async def test_sigkilled_worker_job_is_finished_by_another(
    pool: asyncpg.Pool, engines: Any, tmp_path: Path
) -> None:
    env = _env(engines, JOB_LEASE_SECONDS="1", JOBS_TEST_DIR=str(tmp_path))
    job = await store.enqueue(pool, kind=BLOCK_KIND, payload={})
    assert job is not None
    first = _test_worker(env)
    try:

        async def started() -> bool:
            return (tmp_path / f"started.{first.pid}.1").exists()

        await wait_for(started, "the first worker to start the job")
        running = await _job_where(pool, job.id, state="running")
        assert running is not None and f":{first.pid}:" in (running.lease_owner or "")
        os.kill(first.pid, signal.SIGKILL)
        await _exit_code(first)
    finally:
        _reap(first)
    (tmp_path / "release").touch()
    second = _test_worker(env)
    try:
        done = await wait_for(
            lambda: _job_where(pool, job.id, state="done"), "the second worker to finish it", 90
        )
        assert (tmp_path / f"started.{second.pid}.2").exists()
        assert done.attempts == 2
        assert f":{first.pid}:" in (done.last_error or "") and "expired" in (done.last_error or "")
        second.send_signal(signal.SIGTERM)
        assert await _exit_code(second) == 0
    finally:
        _reap(second)


async def test_sigterm_releases_a_job_that_outlives_the_grace(
    pool: asyncpg.Pool, engines: Any, tmp_path: Path
) -> None:
    env = _env(engines, JOB_SHUTDOWN_GRACE_SECONDS="0.3", JOBS_TEST_DIR=str(tmp_path))
    job = await store.enqueue(pool, kind=BLOCK_KIND, payload={})
    assert job is not None
    proc = _test_worker(env)
    try:

        async def started() -> bool:
            return (tmp_path / f"started.{proc.pid}.1").exists()

        await wait_for(started, "the worker to start the job")
        proc.send_signal(signal.SIGTERM)
        assert await _exit_code(proc) == 0
    finally:
        _reap(proc)
    released = await _job_where(pool, job.id, state="queued", attempts=0, lease_owner=None)
    assert released is not None, await store.get(pool, job.id)


async def test_sigterm_lets_a_running_job_finish_within_the_grace(
    pool: asyncpg.Pool, engines: Any, tmp_path: Path
) -> None:
    env = _env(engines, JOB_SHUTDOWN_GRACE_SECONDS="60", JOBS_TEST_DIR=str(tmp_path))
    job = await store.enqueue(pool, kind=BLOCK_KIND, payload={})
    assert job is not None
    proc = _test_worker(env)
    try:

        async def started() -> bool:
            return (tmp_path / f"started.{proc.pid}.1").exists()

        await wait_for(started, "the worker to start the job")
        proc.send_signal(signal.SIGTERM)
        (tmp_path / "release").touch()
        assert await _exit_code(proc) == 0
    finally:
        _reap(proc)
    assert await _job_where(pool, job.id, state="done", attempts=1) is not None


async def _prune_done(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'done'", PRUNE_KIND
        )
    )


async def test_run_py_worker_runs_the_deployments_kinds(pool: asyncpg.Pool, engines: Any) -> None:
    proc = _start(_env(engines), "run.py", "worker")
    try:
        await wait_for(lambda: _prune_done(pool), "the periodic prune job to run", 90)
        proc.send_signal(signal.SIGTERM)
        assert await _exit_code(proc) == 0
    finally:
        _reap(proc)


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live children of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and " Z " not in stat.rsplit(")", 1)[1][:3]:
            found.append((int(entry.name), cmdline))
    return found


def _job_workers(pid: int) -> list[int]:
    return [child for child, cmd in _children(pid) if cmd.rstrip().endswith("run.py worker")]


async def _gone(pid: int) -> bool:
    return not pid_alive(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_node_runs_one_job_worker_restarts_it_and_stops_it(
    pool: asyncpg.Pool, engines: Any
) -> None:
    proc, port = spawn_node(_env(engines))
    try:
        await asyncio.to_thread(wait_ready, proc, port)
        [crashed] = await wait_for(
            lambda: asyncio.to_thread(_job_workers, proc.pid), "the node's job worker"
        )
        os.kill(crashed, signal.SIGKILL)

        async def restarted() -> list[int]:
            return [pid for pid in _job_workers(proc.pid) if pid != crashed]

        [worker] = await wait_for(restarted, "the node to restart its job worker")
        await wait_for(lambda: _prune_done(pool), "the in-node worker to run a job", 90)
        proc.send_signal(signal.SIGTERM)
        assert await _exit_code(proc) == 0
        await wait_for(lambda: _gone(worker), "the job worker to stop with the node")
        log = proc.stderr.read().decode()  # type: ignore[union-attr]
        assert "job worker started in this node" in log and "job worker stopped" in log
    finally:
        _reap(proc)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_workers_n_start_exactly_one_job_worker(engines: Any) -> None:
    proc, port = spawn_node(_env(engines), "--workers", "2")
    try:
        await asyncio.to_thread(wait_ready, proc, port)

        async def settled() -> list[tuple[int, str]] | None:
            children = await asyncio.to_thread(_children, proc.pid)
            # The supervisor also runs the embedded S3 (rclone) when no storage is set.
            children = [(pid, cmd) for pid, cmd in children if "rclone" not in cmd]
            return children if len(children) == 3 else None

        children = await wait_for(settled, "two nodes and one job worker")
        workers = _job_workers(proc.pid)
        nodes = [pid for pid, _ in children if pid not in workers]
        assert len(workers) == 1 and len(nodes) == 2
        for node in nodes:
            assert _job_workers(node) == [], "nodes under a supervisor start no job worker"
        os.kill(proc.pid, signal.SIGKILL)  # children die with the supervisor
        await _exit_code(proc)
        await wait_for(lambda: _gone(workers[0]), "the job worker to die with the supervisor")
    finally:
        _reap(proc)


async def test_worker_in_node_false_starts_none(engines: Any) -> None:
    proc, port = spawn_node(_env(engines, WORKER_IN_NODE="false"))
    try:
        await asyncio.to_thread(wait_ready, proc, port)
        assert _job_workers(proc.pid) == []
        proc.send_signal(signal.SIGTERM)
        assert await _exit_code(proc) == 0
    finally:
        _reap(proc)
