"""Job kinds: what a worker can run, and the retry policy of each."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.context import JobContext

# A handler gets the job's context and its payload (JSON). It must be idempotent: a job whose
# worker died mid-run is run again from the start by another worker.
Handler = Callable[["JobContext", Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    """One kind of job and its policy.

    - max_attempts: attempts (including lost leases) before the job is dead; a job enqueued
      with its own `max_attempts` keeps that.
    - backoff: attempt n waits between half and all of min(base * 2^(n-1), max) seconds before
      the next, so failing jobs spread out instead of retrying in lockstep.
    - lease_seconds: how long a worker holds the job between heartbeats (None: the worker's
      JOB_LEASE_SECONDS); a dead worker's job is retried this long after its last heartbeat.
    - timeout_seconds: one attempt is cancelled and failed after this long (None: no limit).
    - every_seconds: periodic kind, enqueued once per period across all workers (payload
      `{"slot": n}`).
    """

    name: str
    handler: Handler
    max_attempts: int = 5
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    lease_seconds: float | None = None
    timeout_seconds: float | None = None
    every_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a job kind needs a name")
        if self.max_attempts < 1:
            raise ValueError(f"{self.name}: max_attempts must be at least 1")
        if not 0 <= self.backoff_base_seconds <= self.backoff_max_seconds:
            raise ValueError(f"{self.name}: need 0 <= backoff_base_seconds <= backoff_max_seconds")
        for field in ("lease_seconds", "timeout_seconds", "every_seconds"):
            value = getattr(self, field)
            if value is not None and value <= 0:
                raise ValueError(f"{self.name}: {field} must be positive")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), with jitter."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class Registry:
    """The kinds one worker runs, by name. A worker claims only kinds it has."""

    def __init__(self, kinds: Iterable[JobKind] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[JobKind]:
        return iter(self._kinds.values())

    def __len__(self) -> int:
        return len(self._kinds)

    @property
    def names(self) -> list[str]:
        return sorted(self._kinds)

    def periodic(self) -> list[JobKind]:
        return [kind for kind in self._kinds.values() if kind.every_seconds is not None]
