"""Calling a third-party HTTP API politely and within a request's deadline.

One `Upstream` per provider per process (TMDb, Consumet). Each call:

- waits for the provider's outbound budget (`Throttle`: a token bucket below the provider's
  own limit, TMDb's being about 40 requests/s; a `429` pauses the whole bucket for its
  `Retry-After`, so one refusal stops every caller of this process, not only the one refused);
- is refused at once while the provider's `CircuitBreaker` is open (after
  `failure_threshold` failures in a row; one trial call goes through after `reset_after_s`);
- has `timeout_s` per attempt and at most `max_attempts` attempts: timeouts, connection errors
  and 5xx are retried after a short backoff, a `429` after its `Retry-After` when that fits
  within `max_retry_after_s` (else the call fails at once and the caller serves stale data).

Not-found (404) is an answer, not a failure: it neither retries nor trips the breaker.
Failure policy: every failure surfaces as `UpstreamError`; callers decide (serve stale, 503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

log = logging.getLogger("streamhub.catalogue.upstream")

Clock = Callable[[], float]


class UpstreamError(Exception):
    """The provider could not answer (down, slow, refusing, or its circuit is open)."""

    def __init__(self, provider: str, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.retry_after_s = retry_after_s


class UpstreamNotFound(Exception):
    """The provider answered that the resource does not exist (a 404)."""


class CircuitBreaker:
    """Closed until `failure_threshold` failures in a row; then open (calls refused) for
    `reset_after_s`; then half-open: one trial call, whose outcome closes or reopens it."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.reset_after_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True  # exactly one trial call until it reports
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self._trial = False
        if self.failures >= self.failure_threshold or self.opened_at is not None:
            self.opened_at = self.clock()


class Throttle:
    """A token bucket of `rate_per_s` with a burst of `burst`, shared by a process's callers.

    Guarantee: at most `burst + rate_per_s * t` calls start in any `t` seconds; `pause(s)`
    holds every caller for `s` seconds (a provider's `Retry-After`)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def acquire(self) -> None:
        async with self._lock:  # callers are served in arrival order
            while True:
                now = self.clock()
                if now < self.paused_until:
                    await asyncio.sleep(self.paused_until - now)
                    continue
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass
class ProviderStats:
    """This process's figures for one provider (admin stats and metrics add up all nodes)."""

    calls: int = 0
    errors: int = 0
    latency_total_s: float = 0.0
    errors_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    timeout_s: float = 5.0
    max_attempts: int = 3
    backoff_s: float = 0.2
    max_retry_after_s: float = 5.0
    rate_per_s: float = 35.0
    burst: int = 10
    failure_threshold: int = 5
    reset_after_s: float = 30.0


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """`Retry-After` as seconds (delta-seconds form; an HTTP date or garbage counts as
    `default`)."""
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


class Upstream:
    """GETs JSON from one provider under its `Policy` (module docstring)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        policy: Policy,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        on_call: Callable[[str, bool, float], None] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.breaker = CircuitBreaker(
            failure_threshold=policy.failure_threshold, reset_after_s=policy.reset_after_s
        )
        self.throttle = Throttle(policy.rate_per_s, policy.burst)
        self.stats = ProviderStats()
        # Called after every attempt with (provider, failed, seconds): cluster-wide counters.
        self.on_call = on_call
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                json_serialize=lambda v: orjson.dumps(v).decode(),
                connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _record(self, failed: bool, started: float, reason: str = "") -> None:
        took = time.monotonic() - started
        self.stats.calls += 1
        self.stats.latency_total_s += took
        if failed:
            self.stats.errors += 1
            self.stats.errors_by_reason[reason] = self.stats.errors_by_reason.get(reason, 0) + 1
        if self.on_call is not None:
            self.on_call(self.name, failed, took)

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON body of `GET base_url + path`; UpstreamNotFound on 404, else UpstreamError
        once the policy gives up."""
        query = {**self.params, **{k: str(v) for k, v in (params or {}).items() if v is not None}}
        last: UpstreamError | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            if not self.breaker.allow():
                raise UpstreamError(
                    self.name, "circuit open", retry_after_s=self.policy.reset_after_s
                )
            await self.throttle.acquire()
            try:
                return await self._attempt(path, query)
            except UpstreamError as exc:
                last = exc
                if exc.retry_after_s is None:
                    wait = self.policy.backoff_s * 2 ** (attempt - 1)
                elif exc.retry_after_s <= self.policy.max_retry_after_s:
                    wait = exc.retry_after_s
                else:
                    break  # longer than a request can wait: fail now, let the caller fall back
                if attempt < self.policy.max_attempts:
                    await asyncio.sleep(wait)
        assert last is not None
        raise last

    async def _attempt(self, path: str, query: dict[str, str]) -> Any:
        started = time.monotonic()
        try:
            async with self.session().get(
                self.base_url + path,
                params=query,
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s),
            ) as resp:
                body = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "connection"
            self._record(True, started, reason)
            self.breaker.failure()
            raise UpstreamError(self.name, f"{reason}: {exc!r}") from exc
        if status == 200:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                self._record(True, started, "bad_json")
                self.breaker.failure()
                raise UpstreamError(self.name, "answered malformed JSON") from exc
            self._record(False, started)
            self.breaker.success()
            return data
        if status == 404:
            self._record(False, started)
            self.breaker.success()
            raise UpstreamNotFound(path)
        self._record(True, started, str(status))
        if status == 429:
            pause = retry_after_seconds(retry_after)
            self.throttle.pause(pause)
            log.warning(
                "upstream rate limited us", extra={"provider": self.name, "retry_after_s": pause}
            )
            raise UpstreamError(self.name, "429 rate limited", retry_after_s=pause)
        self.breaker.failure()
        if 400 <= status < 500:  # our request or key is wrong: retrying will not help
            raise UpstreamError(self.name, f"refused with {status}", retry_after_s=float("inf"))
        raise UpstreamError(self.name, f"answered {status}")
