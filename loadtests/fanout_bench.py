"""Fan-out benchmark: the realtime hub against a minimal broadcaster, over loopback only.

For each target (the hub `run.py`, the baseline `loadtests/baseline_broadcaster.py`), node
count (1 or 2 processes sharing one Redis) and subscriber count, on fresh node processes:

1. memory: node RSS before and after connecting N idle subscribed sockets -> KB/connection;
2. throughput: publish as fast as the slowest subscriber allows (a closed loop with at most
   `--window` publications outstanding) for `--duration` s -> deliveries/s;
3. latency: publish `--rate` messages/s for `--latency-seconds` s -> publish-to-receipt
   p50/p95/p99 over every delivery;
and in every phase, lost and out-of-order messages per subscriber.

Nodes are pinned to CPU 0 (`taskset -c 0`), this client (and the embedded Postgres and Redis it
starts) to CPU 1. Bounded: at most `--subscribers` sockets, every phase has a time limit, and
everything binds 127.0.0.1. Not run under pytest.

    .venv/bin/python loadtests/fanout_bench.py --subscribers 1000,5000,10000 --nodes 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from channels.redis_broker import _PUBLISH as PUBLISH_SCRIPT  # noqa: E402
from channels.redis_broker import RedisBroker, history_key, pubsub_channel  # noqa: E402
from devservices.ports import free_port  # noqa: E402
from devservices.stack import local_engines  # noqa: E402
from storage import migrate, users  # noqa: E402

NODE_CPU, CLIENT_CPU = "0", 1
CONNECT_CONCURRENCY = 200
PHASE_TIMEOUT_S = 10.0
MAX_SEQ = 2_000_000


@dataclass
class Tally:
    """Counters shared by every subscriber of a run (one event loop, no locks)."""

    subscribers: int = 0
    received: int = 0
    completed: int = 0  # publications every subscriber has received
    lost: int = 0
    out_of_order: int = 0
    record_latency: bool = False
    latencies_ns: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0] * MAX_SEQ)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_complete(self, seq: int, timeout_s: float) -> bool:
        """Until every subscriber got `seq` (False on timeout: something was lost)."""
        deadline = time.monotonic() + timeout_s
        while self.counts[seq] < self.subscribers:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), deadline - time.monotonic())
            except TimeoutError:
                return False
        return True


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (RFC 6455 requires masking from clients)."""
    mask = os.urandom(4)
    n = len(payload)
    header = (
        bytes([0x80 | opcode, 0x80 | n])
        if n < 126
        else bytes([0x80 | opcode, 0xFE]) + n.to_bytes(2, "big")
    )
    key = (mask * (n // 4 + 1))[:n]
    masked = (
        (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        if n
        else b""
    )
    return header + mask + masked


class Subscriber(asyncio.Protocol):
    """One raw WebSocket: HTTP upgrade, then frames parsed straight out of the byte stream."""

    def __init__(self, tally: Tally, host: str, subscribe: bytes | None) -> None:
        self.tally = tally
        self.host = host
        self.subscribe = subscribe
        self.upgraded = False
        self.buf = b""
        self.expected = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            f"GET /ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during setup"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        pos = 0
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(buf[:200].decode(errors="replace")))
                return
            self.upgraded = True
            pos = end + 4
            if self.subscribe is None:
                self.ready.set_result(None)
        n = len(buf)
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 0x1:
                self.on_text(buf, pos + head, end)
            elif opcode == 0x9 and self.transport is not None:
                self.transport.write(client_frame(buf[pos + head : end], 0xA))
            pos = end
        self.buf = buf[pos:]

    def on_text(self, buf: bytes, start: int, end: int) -> None:
        if buf.startswith(b'{"seq":', start):
            comma = buf.index(b",", start + 7)
            seq = int(buf[start + 7 : comma])
            tally = self.tally
            if tally.record_latency:
                sent = int(buf[comma + 5 : buf.index(b",", comma + 5)])
                tally.latencies_ns.append(time.monotonic_ns() - sent)
            tally.received += 1
            if seq == self.expected:
                self.expected = seq + 1
            elif seq > self.expected:
                tally.lost += seq - self.expected
                self.expected = seq + 1
            else:
                tally.out_of_order += 1
            count = tally.counts[seq] = tally.counts[seq] + 1
            if count == tally.subscribers:
                tally.completed += 1
                tally.progress.set()
            return
        message = orjson.loads(buf[start:end])
        if message["type"] == "connected" and self.transport is not None and self.subscribe:
            self.transport.write(client_frame(self.subscribe))
        elif message["type"] == "subscribed" and not self.ready.done():
            self.ready.set_result(None)
        elif message["type"] == "error" and not self.ready.done():
            self.ready.set_exception(RuntimeError(message))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # the baseline answers 400 to a plain GET of /ws: it is up
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"node on {port} not ready")


@dataclass
class Setup:
    database_url: str
    redis_url: str
    secret: str
    video_id: str


def start_nodes(target: str, count: int, setup: Setup) -> list[tuple[subprocess.Popen[bytes], int]]:
    nodes = []
    for _ in range(count):
        port = free_port()
        if target == "hub":
            cmd = [sys.executable, "run.py", "--port", str(port)]
            ready = "/readyz"
        else:
            cmd = [
                sys.executable,
                "loadtests/baseline_broadcaster.py",
                "--port",
                str(port),
                "--redis",
                setup.redis_url,
            ]
            ready = "/ws"
        env = {
            **os.environ,
            "APP_ENV": "production",
            "DATABASE_URL": setup.database_url,
            "REDIS_URL": setup.redis_url,
            "JWT_SECRET_KEY": setup.secret,
            "LOG_LEVEL": "WARNING",
            "MIGRATE_ON_START": "false",
            "RATE_LIMIT_ENABLED": "false",
            "HOST": "127.0.0.1",
        }
        proc = subprocess.Popen(
            ["taskset", "-c", NODE_CPU, *cmd],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        nodes.append((proc, port))
    for proc, port in nodes:
        wait_http(port, ready, proc)
    return nodes


def stop_nodes(nodes: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    for proc, _ in nodes:
        proc.terminate()
    for proc, _ in nodes:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def connect_all(
    tally: Tally, ports: list[int], n: int, channel: str | None
) -> list[Subscriber]:
    loop = asyncio.get_running_loop()
    subscribe = orjson.dumps({"type": "subscribe", "channel": channel}) if channel else None
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(i: int) -> Subscriber:
        port = ports[i % len(ports)]
        async with gate:
            _, sub = await loop.create_connection(
                lambda: Subscriber(tally, f"127.0.0.1:{port}", subscribe), "127.0.0.1", port
            )
            await asyncio.wait_for(sub.ready, 30)
            return sub

    subs = await asyncio.gather(*(one(i) for i in range(n)))
    tally.subscribers = n
    return list(subs)


def settle(tally: Tally, subs: list[Subscriber], next_seq: int) -> None:
    """Whatever a subscriber never received by the end of a phase counts as lost."""
    for sub in subs:
        if sub.expected < next_seq:
            tally.lost += next_seq - sub.expected
            sub.expected = next_seq


async def throughput(
    tally: Tally,
    publish: Callable[[range], Awaitable[None]],
    seq: int,
    duration: float,
    window: int,
) -> tuple[float, int]:
    """Keep `window` publications in flight, sent in pipelined batches: a publisher awaiting one
    round trip per message would be starved by the receive loop and measure itself instead."""
    first, completed_before = seq, tally.completed
    received_before = tally.received
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        room = window - ((seq - first) - (tally.completed - completed_before))
        if room <= 0:
            tally.progress.clear()
            try:
                await asyncio.wait_for(tally.progress.wait(), PHASE_TIMEOUT_S)
            except TimeoutError:
                break
            continue
        await publish(range(seq, seq + room))
        seq += room
    await tally.wait_complete(seq - 1, PHASE_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    return (tally.received - received_before) / elapsed, seq


async def latency(
    tally: Tally, publish: Callable[[int], Awaitable[None]], seq: int, rate: float, seconds: float
) -> tuple[dict[str, float], int]:
    tally.latencies_ns.clear()
    tally.record_latency = True
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        await publish(seq)
        seq += 1
    await tally.wait_complete(seq - 1, PHASE_TIMEOUT_S)
    tally.record_latency = False
    samples = sorted(tally.latencies_ns)

    def pick(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))] / 1e6 if samples else 0.0

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": pick(1.0)}, seq


def payload_maker(target: str, video_id: str) -> Callable[[int], bytes]:
    pad = "x" * 40
    if target == "hub":
        return lambda seq: orjson.dumps(
            {
                "seq": seq,
                "t": time.monotonic_ns(),
                "type": "new_comment",
                "video_id": video_id,
                "comment": {"text": pad},
            }
        )
    # Same frame size as the hub's, which adds `channel` and `offset`.
    return lambda seq: orjson.dumps(
        {
            "seq": seq,
            "t": time.monotonic_ns(),
            "type": "new_comment",
            "video_id": video_id,
            "comment": {"text": pad},
            "channel": f"video:{video_id}",
            "offset": "1732190000000-0",
        }
    )


async def run_case(
    target: str, node_count: int, n: int, setup: Setup, args: argparse.Namespace
) -> dict[str, Any]:
    nodes = start_nodes(target, node_count, setup)
    redis = Redis.from_url(setup.redis_url)
    broker = RedisBroker(setup.redis_url, history_size=1000)
    await broker.start()
    make = payload_maker(target, setup.video_id)
    channel = f"video:{setup.video_id}"
    script = redis.register_script(PUBLISH_SCRIPT)  # the hub's publish path: XADD + PUBLISH

    async def publish(seqs: range) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for seq in seqs:
                if target == "hub":
                    args = [make(seq), 1000, 3600, pubsub_channel(channel)]
                    await script(keys=[history_key(channel)], args=args, client=pipe)
                else:
                    pipe.publish("bench", make(seq))
            await pipe.execute()

    async def publish_one(seq: int) -> None:
        if target == "hub":
            await broker.publish_bytes(channel, make(seq))
        else:
            await redis.publish("bench", make(seq))

    try:
        await asyncio.sleep(1.0)
        pids = [proc.pid for proc, _ in nodes]
        rss_before = sum(rss_kb(pid) for pid in pids)
        tally = Tally()
        subs = await connect_all(
            tally, [port for _, port in nodes], n, channel if target == "hub" else None
        )
        await asyncio.sleep(2.0)
        rss_after = sum(rss_kb(pid) for pid in pids)
        ticks = sum(cpu_ticks(pid) for pid in pids)
        rate, seq = await throughput(tally, publish, 0, args.duration, args.window)
        server_cpu = (
            (sum(cpu_ticks(pid) for pid in pids) - ticks) / os.sysconf("SC_CLK_TCK") / args.duration
        )
        settle(tally, subs, seq)
        lat, seq = await latency(tally, publish_one, seq, args.rate, args.latency_seconds)
        settle(tally, subs, seq)
        result = {
            "target": target,
            "nodes": node_count,
            "subscribers": n,
            "deliveries_per_s": round(rate),
            "server_cpu": round(server_cpu, 2),
            "latency_ms": {k: round(v, 1) for k, v in lat.items()},
            "lost": tally.lost,
            "out_of_order": tally.out_of_order,
            "kb_per_conn": round((rss_after - rss_before) / n, 1),
        }
        for sub in subs:
            if sub.transport is not None:
                sub.transport.close()
        return result
    finally:
        await broker.close()
        await redis.aclose()
        stop_nodes(nodes)


async def prepare(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate.apply_pending(conn)
        user = await users.create(
            conn,
            username=f"bench_{uuid.uuid4().hex[:6]}",
            email=f"bench_{uuid.uuid4().hex[:6]}@example.com",
            password_hash="-",
            display_name="Bench",
            avatar_url="/static/avatars/default.svg",
            role="creator",
        )
        video_id = await conn.fetchval(
            """INSERT INTO videos (author_id, title, processing_status, published_at)
               VALUES ($1, 'bench', 'ready', now()) RETURNING id""",
            user.id,
        )
    finally:
        await conn.close()
    return str(video_id)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem_kb / 1024 / 1024:.0f} GiB RAM, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )


def table(results: list[dict[str, Any]]) -> str:
    baseline = {
        (r["nodes"], r["subscribers"]): r["deliveries_per_s"]
        for r in results
        if r["target"] == "baseline"
    }
    lines = [
        "| target | nodes | subscribers | deliveries/s | ratio to baseline | server CPU "
        "| p50 ms | p95 ms | p99 ms | lost | out of order | KB/conn |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = baseline.get((r["nodes"], r["subscribers"]))
        ratio = f"{r['deliveries_per_s'] / base:.2f}" if base else "-"
        lat = r["latency_ms"]
        lines.append(
            f"| {r['target']} | {r['nodes']} | {r['subscribers']} | {r['deliveries_per_s']:,} "
            f"| {ratio} | {r['server_cpu']:.2f} | {lat['p50']} | {lat['p95']} | {lat['p99']} "
            f"| {r['lost']} | {r['out_of_order']} | {r['kb_per_conn']} |"
        )
    return "\n".join(lines)


async def run_all(
    args: argparse.Namespace, database_url: str, redis_url: str
) -> list[dict[str, Any]]:
    setup = Setup(database_url, redis_url, secrets.token_urlsafe(48), await prepare(database_url))
    results = []
    for nodes in [int(x) for x in args.nodes.split(",")]:
        for n in [int(x) for x in args.subscribers.split(",")]:
            for target in args.targets.split(","):
                result = await run_case(target, nodes, n, setup, args)
                print(orjson.dumps(result).decode(), flush=True)
                results.append(result)
    return results


def bench(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})  # embedded Postgres/Redis inherit it
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # nodes inherit it too
    most = max(int(x) for x in args.subscribers.split(","))
    if most > min(hard - 1000, 15000):
        raise SystemExit(f"at most {min(hard - 1000, 15000)} subscribers (RLIMIT_NOFILE {hard})")
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as var, local_engines(Path(var), None, None) as engines:
        results = asyncio.run(run_all(args, engines.database_url, engines.redis_url))
    print(table(results))
    if args.out:
        Path(args.out).write_bytes(
            orjson.dumps({"machine": machine(), "results": results}, option=orjson.OPT_INDENT_2)
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="1000,5000,10000")
    parser.add_argument("--nodes", default="1,2")
    parser.add_argument("--targets", default="hub,baseline")
    parser.add_argument("--duration", type=float, default=5.0, help="throughput phase, seconds")
    parser.add_argument("--window", type=int, default=8, help="publications in flight")
    parser.add_argument("--rate", type=float, default=10.0, help="latency phase, messages/s")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--out", help="write JSON results here")
    bench(parser.parse_args())


if __name__ == "__main__":
    main()
