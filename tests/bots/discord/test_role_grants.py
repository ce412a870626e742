"""A Discord guild role granting LogoMesh roles, end to end: the member's role ids travel
from Discord's payload through the adapter to identity resolution.

Real parts: the discord.py client, the adapter, the neutral bot and one engine on the
workspace's SQLite file with ``[[security.role_grants]]``; Discord itself is the loopback
fake.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bots.discord.fake_discord import DEV_ROLE_ID, FakeDiscord
from tests.bots.discord.harness import STRANGER, Load, discord_stack, team_flags, trail

pytestmark = pytest.mark.asyncio
DANA = "200000000000000009"  # in the "developers" guild role, mapped to no identity


def granted(fake: FakeDiscord) -> dict[str, Any]:
    fake.add_user(DANA, "dana", roles=(DEV_ROLE_ID,))
    return team_flags(fake, security={
        "role_grants": [{"discord_role": DEV_ROLE_ID, "roles": ["developer"]}],
    })  # fmt: skip


async def test_a_member_known_only_by_a_guild_role_may_run_what_it_grants(load: Load) -> None:
    async with discord_stack(load, flags=granted) as stack:
        asked = await stack.slash(
            "run", {"command": "test.long", "arguments": "lines=3"}, user=DANA
        )
        await stack.answered(asked, "✅")
        typed = await stack.fake.autocomplete("run", {"command": "test."}, "command", user=DANA)
        await stack.fake.wait_until(lambda: typed.choices is not None, what="choices")
        assert typed.choices and "test.long" in [c["value"] for c in typed.choices]
        await stack.settled()
        [record] = trail(stack.engine, action="test.long")
        assert record.outcome == "ok" and record.actor == f"discord:{DANA}"


async def test_a_member_without_the_role_is_refused_with_the_grant_to_add(load: Load) -> None:
    """Sam is in the guild but not in the granted role: nothing runs, the refusal is in the
    trail, and Sam is told privately both ways an admin can let them in."""
    async with discord_stack(load, flags=granted) as stack:
        asked = await stack.slash("run", {"command": "status"}, user=STRANGER)
        [refusal] = await stack.whispered(asked)
        assert f'discord = ["{STRANGER}"]' in refusal.text
        assert "[[security.role_grants]]" in refusal.text
        await stack.settled()
        [denied] = trail(stack.engine, action="status")
        assert denied.outcome == "denied" and denied.actor == f"discord:{STRANGER}"
        assert denied.details["authorization"]["allowed"] is False
