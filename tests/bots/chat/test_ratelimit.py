"""The per-person token bucket, on a clock the test moves (no sleeping)."""

from __future__ import annotations

import pytest

from bots.chat.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_request_per_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=30, burst=3, clock=clock)
    assert [limiter.take("alice") for _ in range(3)] == [None, None, None]
    refusal = limiter.take("alice")
    assert refusal is not None and refusal.retry_after_s == pytest.approx(2.0)
    assert "try again in 2 s" in refusal.message
    assert "30 a minute, `bots.rate_limit_per_minute`" in refusal.message
    clock.now += 1.0
    later = limiter.take("alice")
    assert later is not None and later.retry_after_s == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.take("alice") is None
    assert limiter.take("alice") is not None


def test_each_person_has_their_own_bucket() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock())
    assert limiter.take(("slack", "U1")) is None
    assert limiter.take(("slack", "U1")) is not None
    assert limiter.take(("slack", "U2")) is None
    assert limiter.take(("discord", "U1")) is None


def test_a_long_pause_refills_only_up_to_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    limiter.take("bob")
    clock.now += 3600
    assert [limiter.take("bob") is None for _ in range(3)] == [True, True, False]


def test_a_clock_that_goes_back_refills_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=1, clock=clock)
    limiter.take("bob")
    clock.now -= 50
    assert limiter.take("bob") is not None


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (1, 0)])
def test_limits_below_one_are_refused(per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(per_minute, burst)
