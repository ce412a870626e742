"""Fixtures for the Discord tests: the whole bot on the loopback Discord (harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.bots.discord.harness import DiscordStack, Load, discord_stack


@pytest_asyncio.fixture
async def stack(load: Load) -> AsyncIterator[DiscordStack]:
    """The bot connected to the loopback Discord, with team mode's rules (harness.py)."""
    async with discord_stack(load) as running:
        yield running
