"""A memory of what was seen in the last few minutes: a repeat within the window is caught.

A platform's signature only proves a request was made by the platform recently; a copy of
it sent again inside the window verifies just as well. Each bot's HTTP mode remembers every
accepted signature for the window and refuses a second one (replay protection), and the
Slack bot remembers each event's id, since Slack delivers an event again when an
acknowledgement was late and the bot must not run a command twice. Anything older than the
window is refused for being old, so the memory never needs to hold more than the window.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RecentKeys:
    """Keys seen in the last ``window_s`` seconds, with when each was first seen.

    ``capacity`` bounds the memory even under a flood inside one window; the oldest key is
    forgotten first, which is what the window would forget next anyway.
    """

    def __init__(
        self,
        window_s: float,
        *,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s = window_s
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def remember(self, key: str) -> bool:
        """Remember ``key``; False if it was already seen within the window."""
        self._forget_old()
        if key in self._seen:
            return False
        self._seen[key] = self._clock()
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        self._forget_old()
        return len(self._seen)

    def _forget_old(self) -> None:
        horizon = self._clock() - self._window_s
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at >= horizon:
                break
            del self._seen[key]
