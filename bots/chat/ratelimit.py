"""A per-person limit on requests, so one chat user cannot keep the engine (or its model) busy.

A token bucket per chat user: ``burst`` requests at once, refilled at ``per_minute`` a
minute. It holds only counts in memory (a restart forgives everybody, which is fine for a
courtesy limit: authorisation, not this, is what keeps people from what they may not do).
The clock is injectable so a test can move time instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# Past this many people, buckets that are full again are forgotten (they hold nothing).
_PRUNE_ABOVE = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """Too many requests: when the next one will be accepted."""

    retry_after_s: float
    per_minute: int
    burst: int

    @property
    def message(self) -> str:
        wait = max(1, math.ceil(self.retry_after_s))
        return (
            f"You have sent more than {self.burst} request(s) in a short time (the limit is "
            f"{self.per_minute} a minute, `bots.rate_limit_per_minute`); try again in {wait} s."
        )


class RateLimiter:
    def __init__(
        self, per_minute: int, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("per_minute and burst must be at least 1")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}

    def take(self, who: Hashable) -> Refusal | None:
        """Spend one request of ``who``'s; None when allowed, else when to come back."""
        now = self._clock()
        bucket = self._buckets.get(who)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[who] = _Bucket(float(self.burst), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self._rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return Refusal((1.0 - bucket.tokens) / self._rate, self.per_minute, self.burst)

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self._rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
