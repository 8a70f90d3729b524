"""The per-socket message rate (a token bucket on an injected clock)."""

from __future__ import annotations

from channels.limits import MessageRate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_message_rate_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    rate = MessageRate(5, clock=clock)
    assert [rate.allow() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.2  # one token back
    assert [rate.allow(), rate.allow()] == [True, False]
    clock.now += 10  # refills to the burst, not beyond
    assert sum(rate.allow() for _ in range(10)) == 5
