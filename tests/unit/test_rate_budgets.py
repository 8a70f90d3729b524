"""Rate-limit budgets from settings and client addresses behind proxies: no engine involved."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis

from server.app import rate_limiter
from server.config import Settings
from server.http.addresses import client_ip, parse_networks


def test_defaults_are_the_contracts_budgets() -> None:
    # Redis.from_url connects lazily: building the limiter touches no server.
    limiter = rate_limiter(Settings(_env_file=None), Redis.from_url("redis://unused"))  # type: ignore[call-arg]
    assert limiter is not None
    assert {p: (b.limit, b.period_ms // 1000, b.per_ip) for p, b in limiter.budgets.items()} == {
        "auth": (10, 60, True),
        "uploads": (5, 3600, False),
        "comments": (30, 3600, False),
        "likes": (100, 60, False),
        "ingest": (120, 60, False),  # the torrent app's scraper, per API key
        "general": (1000, 3600, False),
        "catalogue": (100, 60, True),  # OnStream: 100 requests per minute per IP
    }


def _request(remote: str, forwarded: str | None = None) -> Any:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("GET", "/", headers=headers)
    request._transport_peername = (remote, 1234)  # type: ignore[attr-defined]
    return request


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.5", None, "10.0.0.5"),  # trusted peer, no header
        ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # left-most is client-written: not used
        ("10.0.0.5", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # a second trusted hop is skipped
        ("10.0.0.5", "10.0.0.7, 10.0.0.8", "10.0.0.7"),  # only trusted hops: the left-most
        ("10.0.0.5", "not-an-ip", "10.0.0.5"),
    ],
)
def test_client_ip(remote: str, forwarded: str | None, expected: str) -> None:
    trusted = parse_networks(["10.0.0.0/8"])
    assert client_ip(_request(remote, forwarded), trusted) == expected


def test_settings_reject_bad_rates() -> None:
    with pytest.raises(ValueError, match="RATE_LIMIT_LIKES"):
        Settings(_env_file=None, RATE_LIMIT_LIKES="lots")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Settings(_env_file=None, TRUSTED_PROXIES="10.0.0.300")  # type: ignore[call-arg]
