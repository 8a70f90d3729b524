"""Media pipeline figures for BENCHMARKS.md (issue 10, item 8).

1. Makes a source clip with FFmpeg (`testsrc2` + a tone; default 60 s of 1080p at 30 fps).
2. Raw FFmpeg: the ladder the pipeline runs, as one FFmpeg command by hand (the same
   arguments `handlers/media/transcode.hls_command` builds), timed: wall and CPU.
3. The pipeline: a real node (`run.py`, its job worker, embedded Postgres, Redis and S3 in a
   temporary folder). Upload request, PUT to the presigned URL, complete; then the time until
   the video is `ready` (download from S3, probe, the same FFmpeg command, thumbnail, upload
   of the results, state change), and the CPU the worker process used meanwhile (its own and
   its FFmpeg children's), with the storage server's CPU shown apart.
4. Upload request throughput: POST /api/upload/video/request (presigned URL issuance, one
   video row each) with N concurrent connections, rate limits off for the run.

Raw and pipeline runs alternate `--repeat` times; the machine may be shared, so each figure is
given per run and as the median. Run it under `flock -x /tmp/streamhub-bench.lock`.
Not a test: never run under pytest.

Usage: python loadtests/media_bench.py [--seconds 60] [--height 1080] [--fps 30] [--repeat 1]
           [--requests 2000] [--connections 16] [--out loadtests/reports/media_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devservices.ports import free_port  # noqa: E402
from handlers.media import transcode  # noqa: E402
from loadtests.run_loadtest import wait_ready  # noqa: E402

ADMIN, PASSWORD = "bench_admin", "Bench-Passw0rd-" + secrets.token_hex(4)


def make_source(path: Path, *, seconds: int, height: int, fps: int) -> float:
    width = height * 16 // 9
    started = time.monotonic()
    subprocess.run(
        [
            transcode.ffmpeg_binary(None), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path),
        ],
        check=True,
    )  # fmt: skip
    return time.monotonic() - started


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raw_ffmpeg(source: Path, work: Path) -> dict[str, float]:
    """The ladder by hand: one FFmpeg command, as the pipeline builds it."""
    probe = asyncio.run(transcode.probe(source))
    out = work / "raw"
    transcode.clear(out)
    command = transcode.hls_command(
        transcode.ffmpeg_binary(None),
        source,
        out,
        transcode.ladder_for(probe.height),
        has_audio=probe.audio_codec is not None,
    )
    command = [arg for arg in command if arg not in ("-progress", "pipe:1")]
    cpu, started = children_cpu(), time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return {"wall_s": time.monotonic() - started, "cpu_s": children_cpu() - cpu}


@contextlib.contextmanager
def node(var_dir: Path, port: int) -> Iterator[psutil.Process]:
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "PORT": str(port),
        "ADMIN_USERNAME": ADMIN,
        "ADMIN_PASSWORD": PASSWORD,
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env)
    try:
        wait_ready(port, proc, timeout=120)
        yield psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tree_cpu(process: psutil.Process) -> float:
    """CPU of a process and of its children it has waited for (FFmpeg runs)."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def named_children(parent: psutil.Process, word: str) -> list[psutil.Process]:
    return [p for p in parent.children() if any(word in part for part in p.cmdline())]


async def login(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    async with http.post(
        f"{base}/api/auth/login", json={"login": ADMIN, "password": PASSWORD}
    ) as resp:
        token = (await resp.json())["tokens"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def pipeline_run(base: str, parent: psutil.Process, data: bytes) -> dict[str, float]:
    [worker] = named_children(parent, "worker")
    storage = named_children(parent, "rclone")
    async with aiohttp.ClientSession() as http:
        headers = await login(http, base)
        request = {"filename": "bench.mp4", "file_size": len(data), "content_type": "video/mp4"}
        async with http.post(
            f"{base}/api/upload/video/request", json=request, headers=headers
        ) as resp:
            ticket = await resp.json()
        async with http.put(ticket["upload_url"], data=data, headers=ticket["headers"]) as put:
            assert put.status == 200, await put.text()
        worker_cpu, storage_cpu = tree_cpu(worker), sum(tree_cpu(p) for p in storage)
        started = time.monotonic()
        async with http.post(
            f"{base}/api/upload/{ticket['upload_id']}/complete", headers=headers
        ) as done:
            assert done.status == 200, await done.text()
        while True:
            async with http.get(f"{base}/api/videos/{ticket['video_id']}", headers=headers) as r:
                video = await r.json()
            if video["processing_status"] in ("ready", "error"):
                break
            await asyncio.sleep(0.05)
        wall = time.monotonic() - started
    assert video["processing_status"] == "ready", video
    return {
        "wall_s": wall,
        "cpu_s": tree_cpu(worker) - worker_cpu,
        "storage_cpu_s": sum(tree_cpu(p) for p in storage) - storage_cpu,
        "rungs": len(video["quality_variants"]),
    }


async def request_throughput(
    base: str, parent: psutil.Process, *, requests: int, connections: int
) -> dict[str, float]:
    latencies: list[float] = []
    body = {"filename": "t.mp4", "file_size": 1_000_000, "content_type": "video/mp4"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:
        headers = await login(http, base)
        remaining = iter(range(requests))

        async def client() -> None:
            for _ in remaining:
                sent = time.monotonic()
                async with http.post(
                    f"{base}/api/upload/video/request", json=body, headers=headers
                ) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                latencies.append(time.monotonic() - sent)

        cpu, started = tree_cpu(parent) - tree_cpu_children(parent), time.monotonic()
        await asyncio.gather(*(client() for _ in range(connections)))
        wall = time.monotonic() - started
        node_cpu = tree_cpu(parent) - tree_cpu_children(parent) - cpu
    latencies.sort()
    return {
        "requests": requests,
        "connections": connections,
        "rps": requests / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "node_cpu_share": node_cpu / wall,
    }


def tree_cpu_children(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.children_user + times.children_system


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "loadtests/reports/media_bench.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="streamhub-media-bench-"))
    try:
        source = work / "source.mp4"
        made = make_source(source, seconds=args.seconds, height=args.height, fps=args.fps)
        print(f"source: {args.seconds} s {args.height}p{args.fps}, {source.stat().st_size} bytes"
              f" (made in {made:.1f} s)", flush=True)  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        raw: list[dict[str, float]] = []
        piped: list[dict[str, float]] = []
        with node(work / "var", port) as parent:
            for _ in range(args.repeat):
                raw.append(raw_ffmpeg(source, work))
                print("raw ffmpeg:", json.dumps(raw[-1]), flush=True)
                piped.append(asyncio.run(pipeline_run(base, parent, source.read_bytes())))
                print("pipeline:  ", json.dumps(piped[-1]), flush=True)
            issued = asyncio.run(
                request_throughput(
                    base, parent, requests=args.requests, connections=args.connections
                )
            )
            print("upload requests:", json.dumps(issued), flush=True)
        report: dict[str, Any] = {
            "source": {"seconds": args.seconds, "height": args.height, "fps": args.fps},
            "cores": os.cpu_count(),
            "raw_ffmpeg": raw,
            "pipeline": piped,
            "wall_ratio": median(piped, "wall_s") / median(raw, "wall_s"),
            "cpu_ratio": median(piped, "cpu_s") / median(raw, "cpu_s"),
            "upload_requests": issued,
        }
        print(f"pipeline/raw: wall x{report['wall_ratio']:.3f}, cpu x{report['cpu_ratio']:.3f}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
