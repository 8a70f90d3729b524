"""Rate limits shared by every node: CLUTCH's "Rate Limiting" budgets, held in Redis.

Algorithm: GCRA (the generic cell rate algorithm, a leaky bucket that stores one timestamp per
key) in one Lua script. We use the `limits` library only to parse the settings ("10/minute").
Its Redis strategies were the first choice, and we set them aside because:

- `hit()` answers only allowed/refused. The `X-RateLimit-*` headers need a second call,
  `get_window_stats`, which is neither atomic with the hit nor free (two round trips a policy).
- A like is checked against two budgets ("likes" and "general"). With `limits`, a refused like
  would still spend the general budget, unless we add a third round trip.

Here each request is one `EVALSHA`. It checks every budget the request draws on. It spends them
all, or none if any budget refuses. It returns what the headers need. Redis runs scripts one at
a time, so N concurrent requests against a budget of K get exactly K successes on any number of
nodes. The clock is Redis' `TIME`, so nodes with skewed clocks still agree. A budget of
`L per P` allows a burst of L, then one request every P/L.

Failure policy: if Redis is unreachable, or has not answered within `RATE_LIMIT_TIMEOUT_SECONDS`
(250 ms by default), the request is let through and logged (fail open). A rate limit is a guard
rail, not an authorisation check: refusing every request because Redis blinked would turn a
cache outage into a full outage, and waiting for a paused Redis would stall every request.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import limits
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import RateLimited
from server.http.addresses import caller_ip

if TYPE_CHECKING:
    from core.tokens import AccessClaims
    from server.http.routing import Endpoint

log = logging.getLogger("streamhub.ratelimit")

KEY_PREFIX = "streamhub:rl"

# KEYS: one per budget. ARGV: per budget, its period and its limit (milliseconds, count), then
# the cost. Returns {allowed, index of the binding budget, retry_after_ms, then per budget
# remaining and reset_ms}. The binding budget is the one that refused, or else the one with
# the fewest requests left.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n = #KEYS
local cost = tonumber(ARGV[2 * n + 1])
local tats, periods, intervals = {}, {}, {}
local allowed, worst, retry = 1, 1, 0
for i = 1, n do
  local period = tonumber(ARGV[2 * i - 1])
  local interval = period / tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  tats[i], periods[i], intervals[i] = tat, period, interval
  local wait = tat + interval * cost - period - now
  if wait > 0.001 and wait > retry then
    allowed, worst, retry = 0, i, wait
  end
end
local out = {allowed, worst, math.ceil(retry)}
local fewest = nil
for i = 1, n do
  local tat = tats[i]
  if allowed == 1 then
    tat = tat + intervals[i] * cost
    redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
  end
  local left = math.floor((periods[i] - (tat - now)) / intervals[i] + 0.000001)
  if left < 0 then left = 0 end
  if allowed == 1 and (fewest == nil or left < fewest) then
    fewest, out[2] = left, i
  end
  out[#out + 1] = left
  out[#out + 1] = math.ceil(tat - now)
end
return out
"""


# The budget every /api request spends: per user when signed in, per client IP otherwise.
GENERAL = "general"


@dataclass(frozen=True)
class Budget:
    """`limit` requests per `period_ms`, counted per user (or per IP when anonymous), or
    always per client IP when `per_ip` (budgets that guard sign-in itself)."""

    policy: str
    limit: int
    period_ms: int
    per_ip: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    budget: Budget
    remaining: int
    reset_ms: int
    retry_after_ms: int

    def headers(self) -> dict[str, str]:
        """`X-RateLimit-Reset` is seconds until the budget is full again (IETF draft style)."""
        values = {
            "X-RateLimit-Limit": str(self.budget.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_ms / 1000)),
        }
        if not self.allowed:
            values["Retry-After"] = str(max(1, math.ceil(self.retry_after_ms / 1000)))
        return values


def budgets_from(rates: Mapping[str, str], *, per_ip: Collection[str] = ()) -> dict[str, Budget]:
    """Budgets from `limits` strings ("10/minute"), one per named policy."""
    budgets = {}
    for policy, rate in rates.items():
        item = limits.parse(rate)
        budgets[policy] = Budget(policy, item.amount, item.get_expiry() * 1000, policy in per_ip)
    return budgets


class RateLimiter:
    """Spends budgets in Redis. One instance per app; the Redis client is passed per call.

    Guarantee: `hit` is atomic across all the budgets it names and across nodes sharing Redis.
    """

    def __init__(
        self,
        budgets: dict[str, Budget],
        redis: Redis,
        *,
        prefix: str = KEY_PREFIX,
        timeout_s: float | None = None,
    ) -> None:
        self.budgets = budgets
        self.redis = redis
        self.prefix = prefix
        # How long a request waits for its check before going ahead unchecked (None: Redis's
        # own client deadline).
        self.timeout_s = timeout_s
        self._script: Any = None
        # Called with the policy of every refused request (metrics).
        self.on_refused: Callable[[str], None] | None = None

    def key(self, policy: str, identity: str) -> str:
        # The identity in braces keeps one caller's budgets in one Redis Cluster slot.
        return f"{self.prefix}:{{{identity}}}:{policy}"

    async def hit(self, charges: Sequence[tuple[str, str]], *, cost: int = 1) -> Decision:
        """Spend `cost` from each (policy, identity) budget, or from none if any refuses."""
        if self._script is None:
            self._script = self.redis.register_script(GCRA_SCRIPT)
        budgets = [self.budgets[policy] for policy, _ in charges]
        args: list[int] = []
        for budget in budgets:
            args += [budget.period_ms, budget.limit]
        reply = await self._script(
            keys=[self.key(policy, identity) for policy, identity in charges],
            args=[*args, cost],
        )
        allowed, index, retry_ms, *per_budget = (int(value) for value in reply)
        binding = index - 1
        return Decision(
            allowed=bool(allowed),
            budget=budgets[binding],
            remaining=per_budget[2 * binding],
            reset_ms=per_budget[2 * binding + 1],
            retry_after_ms=retry_ms,
        )


# --- the HTTP edge -------------------------------------------------------------------------

DECISION = web.RequestKey("rate_limit_decision", Decision)
# Absent when rate limiting is off (RATE_LIMIT_ENABLED=false).
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


def charges_for(
    request: web.Request,
    limiter: RateLimiter,
    endpoint: Endpoint,
    user: AccessClaims | None,
    *,
    general: bool = True,
    own: bool = True,
    identity: str | None = None,
) -> list[tuple[str, str]]:
    """The (budget, identity) pairs this request spends: the general budget (`general`) and
    the endpoint's own one (`own`). The caller is `identity` when given (a machine's API key),
    else the signed-in user, else the client's IP."""
    ip = "ip:" + caller_ip(request)
    caller = identity or (f"user:{user.user_id}" if user is not None else ip)
    charges: list[tuple[str, str]] = []
    if general and endpoint.path.startswith("/api/") and GENERAL in limiter.budgets:
        charges.append((GENERAL, caller))
    if own and endpoint.limit is not None:
        per_ip = limiter.budgets[endpoint.limit].per_ip
        charges.append((endpoint.limit, ip if per_ip else caller))
    return charges


async def enforce(
    request: web.Request,
    endpoint: Endpoint,
    user: AccessClaims | None,
    *,
    general: bool = True,
    own: bool = True,
    identity: str | None = None,
) -> None:
    """Spend this request's budgets (all of them, or only the general one or only the
    endpoint's own); raise RateLimited (429) when one is exhausted."""
    limiter = request.app.get(RATE_LIMITER)
    if limiter is None:
        return
    charges = charges_for(
        request, limiter, endpoint, user, general=general, own=own, identity=identity
    )
    if not charges:
        return
    try:
        async with asyncio.timeout(limiter.timeout_s):
            decision = await limiter.hit(charges)
    except (RedisError, OSError) as exc:  # asyncio's TimeoutError is an OSError
        log.warning("rate limit check skipped: redis unavailable", extra={"error": repr(exc)})
        return
    earlier = request.get(DECISION)
    if earlier is None or not decision.allowed or decision.remaining <= earlier.remaining:
        request[DECISION] = decision  # the headers name the budget closest to refusing
    if not decision.allowed:
        if limiter.on_refused is not None:
            limiter.on_refused(decision.budget.policy)
        raise RateLimited(
            f"Rate limit exceeded: {decision.budget.limit} requests per "
            f"{decision.budget.period_ms // 1000} s ({decision.budget.policy})",
            details={
                "policy": decision.budget.policy,
                "limit": decision.budget.limit,
                "period_seconds": decision.budget.period_ms // 1000,
                "retry_after_seconds": int(decision.headers()["Retry-After"]),
            },
            headers=decision.headers(),
        )


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response that spent a budget says what is left of it."""
    decision = request.get(DECISION)
    if decision is not None:
        for name, value in decision.headers().items():
            response.headers.setdefault(name, value)


def validate_endpoints(endpoints: list[Endpoint], budgets: Collection[str]) -> None:
    """Fail at start, not at the first request, when an endpoint names an unknown budget."""
    for endpoint in endpoints:
        if endpoint.limit is not None and endpoint.limit not in budgets:
            raise ValueError(
                f"{endpoint.method} {endpoint.path}: unknown rate limit {endpoint.limit!r}; "
                f"use one of {sorted(budgets)}"
            )


def setup(
    app: web.Application,
    *,
    budgets: Collection[str],
    limiter: RateLimiter | None,
    endpoints: list[Endpoint],
) -> None:
    """Wire rate limiting (`limiter` None: off) into an app serving `endpoints`; an endpoint
    naming a budget not in `budgets` stops the app from being built, limits on or off."""
    validate_endpoints(endpoints, budgets)
    if limiter is not None:
        app[RATE_LIMITER] = limiter
    app.on_response_prepare.append(add_headers)
