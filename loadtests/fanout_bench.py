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
everything binds 127.0.0.1. Not run under pytest. Modules: `fanout_client` (the raw WebSocket
client), `fanout_nodes` (node processes), `fanout_report` (figures and table).

    .venv/bin/python loadtests/fanout_bench.py --subscribers 1000,5000,10000 --nodes 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from channels.redis_broker import _PUBLISH as PUBLISH_SCRIPT  # noqa: E402
from channels.redis_broker import RedisBroker, history_key, pubsub_channel  # noqa: E402
from devservices.stack import local_engines  # noqa: E402
from loadtests.fanout_client import Tally, close_all, connect_all, settle  # noqa: E402
from loadtests.fanout_nodes import (  # noqa: E402
    Setup,
    cpu_ticks,
    prepare,
    rss_kb,
    start_nodes,
    stop_nodes,
)
from loadtests.fanout_report import machine, percentiles, table  # noqa: E402

CLIENT_CPU = 1
PHASE_TIMEOUT_S = 10.0

Publish = Callable[[range], Awaitable[None]]
PublishOne = Callable[[int], Awaitable[None]]


async def throughput(
    tally: Tally,
    publish: Publish,
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
    tally: Tally, publish: PublishOne, seq: int, rate: float, seconds: float
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
    return percentiles(tally.latencies_ns), seq


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


def publishers(
    target: str, redis: Redis, broker: RedisBroker, setup: Setup
) -> tuple[Publish, PublishOne]:
    """Pipelined batches for throughput, one awaited publish at a time for latency. The hub's
    publications go through its own Lua XADD + PUBLISH, the baseline's are a bare PUBLISH."""
    make = payload_maker(target, setup.video_id)
    channel = f"video:{setup.video_id}"
    script = redis.register_script(PUBLISH_SCRIPT)

    async def publish(seqs: range) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for seq in seqs:
                if target == "hub":
                    args: list[bytes | int | str] = [make(seq), 1000, 3600, pubsub_channel(channel)]
                    await script(keys=[history_key(channel)], args=args, client=pipe)
                else:
                    pipe.publish("bench", make(seq))
            await pipe.execute()

    async def publish_one(seq: int) -> None:
        if target == "hub":
            await broker.publish_bytes(channel, make(seq))
        else:
            await redis.publish("bench", make(seq))

    return publish, publish_one


async def measure(
    target: str, nodes: list[Any], n: int, setup: Setup, args: argparse.Namespace,
    publish: Publish, publish_one: PublishOne,
) -> dict[str, Any]:  # fmt: skip
    pids = [proc.pid for proc, _ in nodes]
    rss_before = sum(rss_kb(pid) for pid in pids)
    tally = Tally()
    channel = f"video:{setup.video_id}" if target == "hub" else None
    subs = await connect_all(tally, [port for _, port in nodes], n, channel)
    await asyncio.sleep(2.0)
    rss_after = sum(rss_kb(pid) for pid in pids)
    ticks, client_before = sum(cpu_ticks(pid) for pid in pids), time.process_time()
    started = time.perf_counter()
    rate, seq = await throughput(tally, publish, 0, args.duration, args.window)
    elapsed = time.perf_counter() - started
    server_ticks = sum(cpu_ticks(pid) for pid in pids) - ticks
    client_cpu = (time.process_time() - client_before) / elapsed
    settle(tally, subs, seq)
    lat, seq = await latency(tally, publish_one, seq, args.rate, args.latency_seconds)
    settle(tally, subs, seq)
    close_all(subs)
    return {
        "deliveries_per_s": round(rate),
        "server_cpu": round(server_ticks / os.sysconf("SC_CLK_TCK") / elapsed, 2),
        "client_cpu": round(client_cpu, 2),
        "latency_ms": {k: round(v, 1) for k, v in lat.items()},
        "lost": tally.lost,
        "out_of_order": tally.out_of_order,
        "kb_per_conn": round((rss_after - rss_before) / n, 1),
    }


async def run_case(
    target: str, node_count: int, n: int, setup: Setup, args: argparse.Namespace
) -> dict[str, Any]:
    nodes = start_nodes(target, node_count, setup)
    redis = Redis.from_url(setup.redis_url)
    broker = RedisBroker(setup.redis_url, history_size=1000)
    await broker.start()
    try:
        await asyncio.sleep(1.0)
        publish, publish_one = publishers(target, redis, broker, setup)
        figures = await measure(target, nodes, n, setup, args, publish, publish_one)
        return {"target": target, "nodes": node_count, "subscribers": n, **figures}
    finally:
        await broker.close()
        await redis.aclose()
        stop_nodes(nodes)


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
