"""A persistent approval button for the fake's own tests (gateway and HTTP mode alike).

discord.py finds a :class:`discord.ui.DynamicItem` by its custom_id's pattern, even after a
restart, with no View kept in memory: the shape the Discord bot's approval buttons take,
here without LogoMesh, to show the fake's clicks reach such an item.
"""

from __future__ import annotations

import re
from typing import Any

import discord


class Approve(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"approve:(?P<ticket>\w+)"
):
    """``approve:<ticket>``; a click answers by updating its card in place (type 7)."""

    def __init__(self, ticket: str) -> None:
        super().__init__(discord.ui.Button(label="Approve", custom_id=f"approve:{ticket}"))
        self.ticket = ticket

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Approve:
        return cls(match["ticket"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=f"approved {self.ticket}", view=None)
