"""A job worker process for the process tests: `python -m tests.jobs.worker_process`.

Runs `server.worker.run_worker` (the composition root `run.py worker` uses, SIGTERM handling
included) with one test kind, `test.block`: its handler leaves a marker file
`started.<pid>.<attempt>` in $JOBS_TEST_DIR, then waits until `release` exists there.
Settings come from the environment like any worker's.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from jobs.context import JobContext
from jobs.registry import JobKind
from server import logs
from server.config import Settings
from server.worker import run_worker

BLOCK_KIND = "test.block"


async def block(ctx: JobContext, _payload: Any) -> None:
    folder = Path(os.environ["JOBS_TEST_DIR"])
    (folder / f"started.{os.getpid()}.{ctx.attempt}").touch()
    # Another process creates the file: there is no event to await, so look every 20 ms.
    while not (folder / "release").exists():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def main() -> int:
    settings = Settings()
    logs.configure(settings.log_level)
    kind = JobKind(BLOCK_KIND, block, max_attempts=5, backoff_base_seconds=0)
    asyncio.run(run_worker(settings, [kind]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
