"""jobs.registry: kinds validate their policy; a registry holds each name once."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.context import JobContext
from jobs.registry import JobKind, Registry


async def _noop(_ctx: JobContext, _payload: Any) -> None:
    pass


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"max_attempts": 0},
        {"backoff_base_seconds": -1},
        {"backoff_base_seconds": 10, "backoff_max_seconds": 5},
        {"lease_seconds": 0},
        {"timeout_seconds": -1},
        {"every_seconds": 0},
    ],
)
def test_kind_refuses_a_bad_policy(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JobKind(**{"name": "k", "handler": _noop, **bad})


def test_registry_holds_each_name_once() -> None:
    every = JobKind("b.periodic", _noop, every_seconds=60)
    registry = Registry([JobKind("a.once", _noop), every])
    assert registry.names == ["a.once", "b.periodic"] and len(registry) == 2
    assert "a.once" in registry and "nope" not in registry
    assert registry.get("b.periodic") is every and registry.get("nope") is None
    assert registry.periodic() == [every]
    with pytest.raises(ValueError, match="twice"):
        registry.add(JobKind("a.once", _noop))
