"""A Discord guild role granting LogoMesh roles, end to end: the member's role ids travel
from Discord's payload through the adapter to identity resolution.

Real parts: the discord.py client, the adapter, the neutral bot and one engine on the
workspace's SQLite file with ``[[security.role_grants]]``; Discord itself is the loopback
fake. (Skipped on a tree without role grants: they are the integrator's part of issue 16.)
"""

from __future__ import annotations

from typing import Any

import pytest

from logomesh.config import SecuritySettings
from tests.bots.discord.fake_discord import DEV_ROLE_ID, FakeDiscord
from tests.bots.discord.harness import Load, discord_stack, team_flags, trail

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(
        "role_grants" not in SecuritySettings.model_fields, reason="no [[security.role_grants]]"
    ),
]
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
