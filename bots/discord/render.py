"""The rendering model as a Discord message: content, embeds, buttons and files.

:func:`to_discord` first fits a reply into :data:`DISCORD_LIMITS` with
:func:`bots.chat.fitting.fit` (which attaches whatever it cuts), then draws each block:
text, code and tables go into the message's ``content`` (code and tables as ``` fences,
so output shows monospaced and is not read as markdown), label/value fields into an embed's
fields, the context line as ``-#`` subtext, buttons as a persistent view of
:class:`~bots.discord.views.ApprovalButton`. Discord caps ``content`` at 2,000 characters
for the whole message; the blocks that do not fit go whole into one more file.

Nothing is escaped against pings: the client's ``allowed_mentions`` lets only users be
mentioned, so ``@everyone`` or a role in a command's output is shown, never sent as a ping.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import discord

from bots.chat.fitting import Limits, block_text, fit, monospaced, unused_name
from bots.chat.render import (
    Attachment,
    Block,
    Button,
    Buttons,
    Code,
    Context,
    Fields,
    Reply,
    Table,
    Text,
)
from bots.discord.views import approval_view

CONTENT_CHARS = 2000  # a message's content
EMBED_CHARS = 6000  # all the text of all a message's embeds
MAX_EMBEDS = 10
FIELD_NAME_CHARS = 256
FIELD_VALUE_CHARS = 1024
DISCORD_LIMITS = Limits(
    text_chars=1800,
    code_chars=1800,  # room for the fence and its language
    fields=10,
    field_chars=500,  # ten of them stay under an embed's 6,000 characters
    table_rows=20,
    cell_chars=40,
    blocks=20,
    buttons=5,  # one row
    label_chars=80,
    fallback_chars=CONTENT_CHARS,
)
_ZERO_WIDTH = "\u200b"
_FENCE_BREAKER = re.compile(r"`{3,}")
# ``*bold*`` of the neutral subset, not ``**`` already, not a lone star in ``2 * 3``.
_BOLD = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+-]{1,20}$")


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """What a send or an edit takes. The view and the files are built anew for each send:
    a ``discord.File`` is consumed by the request that uploads it."""

    content: str
    embeds: tuple[discord.Embed, ...]
    buttons: tuple[Button, ...]
    attachments: tuple[Attachment, ...]

    def view(self) -> discord.ui.View | None:
        return approval_view(self.buttons)

    def files(self) -> list[discord.File]:
        return [
            discord.File(io.BytesIO(a.content.encode("utf-8")), filename=a.filename)
            for a in self.attachments
        ]


def to_discord(reply: Reply, limits: Limits = DISCORD_LIMITS) -> DiscordMessage:
    fitted = fit(reply, limits)
    parts: list[tuple[str, Block]] = []
    embeds: list[discord.Embed] = []
    buttons: list[Button] = []
    overflow: list[Block] = []
    embed_chars = 0
    for block in fitted.blocks:
        if isinstance(block, Buttons):
            buttons += block.buttons
        elif isinstance(block, Fields):
            embed = _embed(block)
            size = len(embed)
            if len(embeds) < MAX_EMBEDS and embed_chars + size <= EMBED_CHARS:
                embeds.append(embed)
                embed_chars += size
            else:
                overflow.append(block)
        else:
            parts.append((_draw(block), block))
    content, rest = _content(parts)
    attachments = fitted.attachments
    if rest or overflow:
        name = unused_name("more.txt", attachments)
        text = "\n\n".join(block_text(block) for block in [*rest, *overflow])
        attachments = (*attachments, Attachment(name, text, "more"))
        note = f"… (cut: the rest attached as {name})"
        content = f"{content}\n{note}" if content else note
    if not content and not embeds:
        content = fitted.fallback[:CONTENT_CHARS] or "LogoMesh"
    return DiscordMessage(content, tuple(embeds), tuple(buttons[: limits.buttons]), attachments)


def _content(parts: list[tuple[str, Block]]) -> tuple[str, list[Block]]:
    """The drawn parts that fit in one content, joined; the blocks of the rest."""
    whole = "\n".join(drawn for drawn, _ in parts)
    if len(whole) <= CONTENT_CHARS:
        return whole, []
    room = CONTENT_CHARS - 60  # for the note that names the file with the rest
    kept: list[str] = []
    for index, (drawn, _) in enumerate(parts):
        if len("\n".join([*kept, drawn])) > room:
            return "\n".join(kept), [block for _, block in parts[index:]]
        kept.append(drawn)
    return "\n".join(kept), []


def _draw(block: Block) -> str:
    if isinstance(block, Text):
        return bold(block.text)
    if isinstance(block, Code):
        return fence(block.text or "(no output)", block.language)
    if isinstance(block, Table):
        return fence(monospaced(block), None)
    if isinstance(block, Context):
        return "\n".join(f"-# {line}" for line in block.text.splitlines() if line.strip())
    return block_text(block)


def bold(text: str) -> str:
    """The neutral ``*bold*`` as Discord's ``**bold**`` (a single star is italics there)."""
    return _BOLD.sub(r"**\1**", text)


def fence(text: str, language: str | None) -> str:
    """``text`` in a code block that nothing in it can close: a run of three backticks
    inside gets zero-width spaces between them (Discord's fences have no escape)."""
    safe = _FENCE_BREAKER.sub(lambda match: _ZERO_WIDTH.join(match.group()), text)
    tag = language if language and _LANGUAGE.match(language) else ""
    return f"```{tag}\n{safe}\n```"


def _embed(block: Fields) -> discord.Embed:
    embed = discord.Embed()
    for label, value in block.pairs[:25]:
        name = (label or _ZERO_WIDTH)[:FIELD_NAME_CHARS]
        shown = (bold(value) or _ZERO_WIDTH)[:FIELD_VALUE_CHARS]
        embed.add_field(name=name, value=shown, inline=len(shown) <= 40 and "\n" not in shown)
    return embed
