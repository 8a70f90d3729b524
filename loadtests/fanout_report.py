"""The fan-out benchmark's report: the machine, and one table row per case with its ratio."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


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


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest rank)."""
    samples = sorted(samples_ns)

    def pick(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))] / 1e6 if samples else 0.0

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": pick(1.0)}


def table(results: list[dict[str, Any]]) -> str:
    """Markdown; the ratio compares each case with the baseline of the same nodes and size."""
    baseline = {
        (r["nodes"], r["subscribers"]): r["deliveries_per_s"]
        for r in results
        if r["target"] == "baseline"
    }
    lines = [
        "| target | nodes | subscribers | deliveries/s | ratio to baseline | server CPU "
        "| client CPU | p50 ms | p95 ms | p99 ms | lost | out of order | KB/conn |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = baseline.get((r["nodes"], r["subscribers"]))
        ratio = f"{r['deliveries_per_s'] / base:.2f}" if base else "-"
        lat = r["latency_ms"]
        lines.append(
            f"| {r['target']} | {r['nodes']} | {r['subscribers']} | {r['deliveries_per_s']:,} "
            f"| {ratio} | {r['server_cpu']:.2f} | {r['client_cpu']:.2f} | {lat['p50']} "
            f"| {lat['p95']} | {lat['p99']} | {r['lost']} | {r['out_of_order']} "
            f"| {r['kb_per_conn']} |"
        )
    return "\n".join(lines)
