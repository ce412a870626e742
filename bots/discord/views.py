"""Approval buttons that survive a restart: the ticket is in the button, not in memory.

A card can be clicked hours after it was posted, by then perhaps in another process of
the bot. discord.py dispatches a click to a ``View`` it keeps in memory, which a restart
loses, or to a :class:`discord.ui.DynamicItem` class registered with
``Client.add_dynamic_items``, which matches the button's ``custom_id`` against a template.
:class:`ApprovalButton` is such a class: its ``custom_id`` is ``"<action>:<ticket id>"``
(``logomesh.approve:3f2a...``), so any client instance rebuilds the button from the click
alone. Who may decide is not checked here: the engine decides (``bots.chat.approvals``).

The click is acknowledged first (a deferred update, type 6: no visible change, within
Discord's 3 s), then handed to the client, which builds the neutral click and conversation.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol, runtime_checkable

import discord

from bots.chat.approvals import ACTIONS
from bots.chat.render import Button, ButtonStyle

log = logging.getLogger(__name__)

TEMPLATE = "(?P<action>" + "|".join(re.escape(action) for action in ACTIONS) + "):(?P<value>.+)"
CUSTOM_ID_CHARS = 100  # Discord's limit on a component's custom_id
_STYLES = {
    ButtonStyle.PRIMARY: discord.ButtonStyle.success,
    ButtonStyle.DANGER: discord.ButtonStyle.danger,
    ButtonStyle.PLAIN: discord.ButtonStyle.secondary,
}


@runtime_checkable
class ClickHandler(Protocol):
    """What the client does with a click once it is acknowledged (``deferred``: whether the
    acknowledgement reached Discord in time; if not, the answer goes to the channel)."""

    async def approval_clicked(
        self, interaction: discord.Interaction[Any], action: str, value: str, *, deferred: bool
    ) -> None: ...


def custom_id(action: str, value: str) -> str:
    return f"{action}:{value}"


class ApprovalButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=TEMPLATE):
    """Approve or Decline of one ticket, rebuilt from its ``custom_id`` on every click."""

    def __init__(
        self,
        action: str,
        value: str,
        *,
        label: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label or action, style=style, custom_id=custom_id(action, value)
        )
        super().__init__(button)
        self.action = action
        self.value = value

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ApprovalButton:
        label = getattr(item, "label", None)
        style = getattr(item, "style", discord.ButtonStyle.secondary)
        return cls(match["action"], match["value"], label=label, style=style)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        deferred = True
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            # Too late for Discord (10062) or already answered: the click still counts, and
            # the clicker is answered through the channel instead.
            log.warning("Could not acknowledge a click in time (%s); answering in the channel", exc)
            deferred = False
        client = interaction.client
        if not isinstance(client, ClickHandler):
            log.error("A LogoMesh button was clicked on a client that cannot handle it")
            return
        await client.approval_clicked(interaction, self.action, self.value, deferred=deferred)


def approval_view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """A persistent view (no timeout) of the buttons; None when there are none. Buttons of
    an action this module does not know are left out (the neutral bot draws none)."""
    items = []
    for button in buttons:
        if (
            button.action not in ACTIONS
            or len(custom_id(button.action, button.value)) > CUSTOM_ID_CHARS
        ):
            log.warning("Not drawing button %r: not an approval button Discord can carry", button)
            continue
        items.append(
            ApprovalButton(
                button.action, button.value, label=button.label, style=_STYLES[button.style]
            )
        )
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view
