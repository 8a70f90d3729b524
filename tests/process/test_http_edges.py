"""Requests aiohttp's HTTP parser refuses, against a real `run.py` node (the app never sees them,
so only a served node shows how they are answered)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TEST_SECRET
from tests.nodes import node_env, start_node

pytestmark = pytest.mark.timeout(240)


def _env(engines: Any) -> dict[str, str]:
    return node_env(
        DATABASE_URL=engines.database_url,
        REDIS_URL=engines.redis_url,
        JWT_SECRET_KEY=TEST_SECRET,
        MIGRATE_ON_START="false",
        LOG_LEVEL="INFO",
        WORKER_IN_NODE="false",
    )


@pytest.fixture(scope="module")
def node(engines: Any) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = start_node(_env(engines))
    yield proc, port
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def _exchange(port: int, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status_line, headers, body


MALFORMED = {
    "request line over 8 KiB": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown method": b"FR<OB /api/videos HTTP/1.1\r\nHost: x\r\n\r\n",
    "Transfer-Encoding with Content-Length": (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_parser_refusals_answer_in_the_error_format(
    node: tuple[subprocess.Popen[bytes], int], raw: bytes
) -> None:
    _, port = node
    status_line, headers, body = _exchange(port, raw)
    assert status_line.split()[1].startswith("4"), status_line
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)
    assert error["success"] is False
    assert set(error["error"]) == {"code", "message", "details", "field_errors"}
    assert error["error"]["code"] == "VALIDATION_ERROR"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["server"] == "streamhub"
    assert b"aaaa" not in body and b"FR<OB" not in body, "the request is not echoed"


def test_the_server_header_names_no_version(node: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = node
    status_line, headers, _ = _exchange(
        port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert " 200 " in status_line + " "
    assert headers["server"] == "streamhub"


def test_refusals_log_one_info_line_and_no_traceback(engines: Any) -> None:
    proc, port = start_node(_env(engines))  # a node of its own: its log is read at the end
    try:
        for raw in MALFORMED.values():
            _exchange(port, raw)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    refusals = [line for line in log.splitlines() if "refused a malformed request" in line]
    assert len(refusals) == len(MALFORMED), log[-3000:]
    assert all(json.loads(line)["level"] == "info" for line in refusals), refusals
    assert "Traceback" not in log, log[-3000:]
