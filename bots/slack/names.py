"""People's display names for events, which carry only a user id.

A slash command and a click name the person (``user_name``); a mention or a direct message
does not, yet a reply is easier to read with a name, and the lines an admin is asked to add
for an unmapped person suggest one. ``users.info`` (the ``users:read`` scope) is asked once
per person and remembered for an hour, after the acknowledgement, never before it. A
refusal (the scope missing, Slack down) leaves the name unknown; nothing else depends on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class DisplayNames:
    """Names by Slack user id, asked of ``users.info`` and remembered for ``ttl_s``."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_s: float = 3600.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._known: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._asking: dict[str, asyncio.Future[str | None]] = {}

    async def of(self, user_id: str) -> str | None:
        """The person's display name (else real name, else handle), or None."""
        cached = self._known.get(user_id)
        if cached is not None and self._clock() - cached[1] < self._ttl_s:
            return cached[0]
        asking = self._asking.get(user_id)
        if asking is None:  # one question per person, however many messages are waiting
            asking = asyncio.ensure_future(self._ask(user_id))
            self._asking[user_id] = asking
            asking.add_done_callback(lambda _: self._asking.pop(user_id, None))
        name = await asyncio.shield(asking)
        # A failed lookup is remembered too: one refusal an hour, not one per message.
        self._known[user_id] = (name, self._clock())
        self._known.move_to_end(user_id)
        while len(self._known) > self._capacity:
            self._known.popitem(last=False)
        return name

    async def _ask(self, user_id: str) -> str | None:
        try:
            answer = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response else exc
            log.info("No display name for %s (users.info: %s)", user_id, error)
            return None
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), user.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None
