"""What refusing a bad body costs: a ~1 MB JSON object of unknown keys sent to the login endpoint.

Starts embedded engines in a temporary folder, serves the app over real HTTP on loopback
(aiohttp's test server), sends the body twice and prints the status, the size of the answer
and the CPU and wall time of each exchange (this process runs both ends, so the client's
parsing of the answer is included). Not run under pytest.

    python loadtests/refusal_cost.py [--keys 80000]
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys
import tempfile
import time

import orjson
from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from devservices.stack import Engines, local_engines
from server.app import create_app
from tests.conftest import _migrate, make_settings


async def measure(engines: Engines, keys: int) -> None:
    await _migrate(engines.database_url)
    app = create_app(make_settings(engines, MAX_BODY_BYTES=4_000_000))
    body = orjson.dumps({f"k{n:06d}": 1 for n in range(keys)})
    async with TestClient(TestServer(app)) as client:
        for _ in range(2):
            cpu, wall = time.process_time(), time.perf_counter()
            resp = await client.post(
                "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
            )
            answer = await resp.read()
            print(
                f"body {len(body) / 1e6:.2f} MB of {keys} unknown keys -> {resp.status}, "
                f"answer {len(answer):,} bytes, CPU {time.process_time() - cpu:.3f} s, "
                f"wall {time.perf_counter() - wall:.3f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=80_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var, local_engines(pathlib.Path(var), None, None) as e:
        asyncio.run(measure(e, args.keys))


if __name__ == "__main__":
    main()
