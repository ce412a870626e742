"""The rendering model in Slack's Block Kit: one function per kind of block.

:func:`to_slack` first fits a reply into Slack's limits (:data:`SLACK_LIMITS`, with
:func:`bots.chat.fitting.fit`, which attaches whatever it cuts), then draws each block:
text as an ``mrkdwn`` section, code and tables as preformatted rich text (monospaced, and
not read as markdown, so output shows as it is), fields as a section's fields, buttons as
an ``actions`` block, the context line as a ``context`` block.

Slack reads ``&``, ``<`` and ``>`` in mrkdwn as markup (``<!channel>`` pings everyone), so
they are escaped in all text but the one markup the neutral bot writes on purpose: a
person's mention ``<@U123>``. Escaping can lengthen a text past a section's 3,000
characters; such a text is split over several sections rather than cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bots.chat.fitting import Limits, block_text, fit, monospaced, unused_name
from bots.chat.render import (
    Attachment,
    Block,
    Buttons,
    ButtonStyle,
    Code,
    Context,
    Fields,
    Reply,
    Table,
    Text,
)

# Block Kit's own limits (https://docs.slack.dev/reference/block-kit/blocks): a section's
# text 3,000 characters, 10 fields of 2,000, 50 blocks, 25 buttons of 75; a message's
# ``text`` is cut by Slack past 40,000 but a notification shows far less.
SECTION_CHARS = 3000
MAX_BLOCKS = 50
SLACK_LIMITS = Limits(
    text_chars=2800,
    code_chars=2900,
    fields=10,
    field_chars=1900,
    table_rows=20,
    cell_chars=40,
    blocks=45,  # room for a split section or table
    buttons=5,
    label_chars=75,
    fallback_chars=3000,
)
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What ``chat.postMessage`` and ``chat.update`` take: the notification ``text``, the
    ``blocks``, and the files to upload into the thread."""

    text: str
    blocks: list[dict[str, Any]]
    attachments: tuple[Attachment, ...]


def to_slack(reply: Reply, limits: Limits = SLACK_LIMITS) -> SlackMessage:
    fitted = fit(reply, limits)
    blocks: list[dict[str, Any]] = []
    attachments = fitted.attachments
    for index, block in enumerate(fitted.blocks):
        drawn = _draw(block, limits)
        if len(blocks) + len(drawn) > MAX_BLOCKS - 1:
            # Split sections can outgrow Slack's 50 blocks; what does not fit is attached.
            rest = "\n\n".join(block_text(b) for b in fitted.blocks[index:])
            name = unused_name("more.txt", attachments)
            attachments = (*attachments, Attachment(name, rest, "more"))
            blocks.append(_section(escape(f"… (cut: the rest attached as {name})")))
            break
        blocks += drawn
    fallback = escape(fitted.fallback) or _first_text(fitted) or "LogoMesh"
    return SlackMessage(fallback[:SECTION_CHARS], blocks, attachments)


def escape(text: str) -> str:
    """``text`` safe in mrkdwn: ``&<>`` escaped, except in a ``<@U123>`` mention."""
    parts = []
    last = 0
    for match in _MENTION.finditer(text):
        parts.append(_escape_all(text[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(_escape_all(text[last:]))
    return "".join(parts)


def _escape_all(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _draw(block: Block, limits: Limits) -> list[dict[str, Any]]:
    if isinstance(block, Text):
        return [_section(chunk) for chunk in _chunks(escape(block.text), SECTION_CHARS)]
    if isinstance(block, Code):
        return _preformatted(block.text or "(no output)", limits.code_chars)
    if isinstance(block, Table):
        return _preformatted(monospaced(block), limits.code_chars)
    if isinstance(block, Fields):
        return _fields(block)
    if isinstance(block, Buttons):
        return [_actions(block)] if block.buttons else []
    return [_context(block)]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " "}}


def _preformatted(text: str, size: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": chunk}]}
            ],
        }
        for chunk in _chunks(text, size)
    ]


def _fields(block: Fields) -> list[dict[str, Any]]:
    fields = [
        {"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"[:2000]}
        for label, value in block.pairs
    ]
    return [{"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10)]


def _actions(block: Buttons) -> dict[str, Any]:
    elements = []
    for button in block.buttons[:25]:
        element: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": button.label[:75], "emoji": True},
            "action_id": button.action,
            "value": button.value[:2000],
        }
        if button.style is not ButtonStyle.PLAIN:
            element["style"] = button.style.value
        elements.append(element)
    return {"type": "actions", "elements": elements}


def _context(block: Context) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _context_text(block)}]}


def _context_text(block: Context) -> str:
    return escape(block.text)[:SECTION_CHARS] or " "


def _chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size``, broken at a line end where there is one."""
    pieces = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > 0 else size
        pieces.append(text[:cut])
        text = text[cut:].removeprefix("\n")
    pieces.append(text)
    return pieces


def _first_text(reply: Reply) -> str:
    for block in reply.blocks:
        if isinstance(block, Text | Context) and block.text.strip():
            return escape(block.text)
    return ""
