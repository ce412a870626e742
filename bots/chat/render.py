"""The rendering model: what a reply says, independent of any platform's format.

The neutral bot builds a :class:`Reply` of a few kinds of block; each platform turns it into
its own format (Slack's Block Kit, Discord's embeds and components) and applies its own
limits with :func:`bots.chat.fitting.fit`, which cuts long content and attaches the whole
text as a file instead of losing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph; ``*bold*``, ``_italic_`` and ``` `code` ``` in the platforms' shared
    subset of markdown."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """Preformatted output (a command's stdout, a diff)."""

    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of cells under column names (audit records, commands, tickets)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Fields:
    """Label and value pairs (a ticket's command, risk, requester, arguments)."""

    pairs: tuple[tuple[str, str], ...]


class ButtonStyle(StrEnum):
    PLAIN = "plain"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Button:
    """A button; its click comes back as a ButtonClick with this ``action`` and ``value``."""

    label: str
    action: str
    value: str
    style: ButtonStyle = ButtonStyle.PLAIN


@dataclass(frozen=True, slots=True)
class Buttons:
    buttons: tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class Context:
    """A small line under the rest: who asked, the correlation id, how long it took."""

    text: str


Block = Text | Code | Table | Fields | Buttons | Context


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with the reply: the whole of what the blocks had to cut."""

    filename: str
    content: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """One message: its blocks, the plain ``fallback`` a notification or a screen reader
    shows, and files; ``private`` replies are shown to the person who asked only."""

    blocks: tuple[Block, ...]
    fallback: str
    attachments: tuple[Attachment, ...] = ()
    private: bool = False
