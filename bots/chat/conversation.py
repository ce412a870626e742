"""The port through which the neutral bot talks back: a platform implements three methods.

One :class:`Conversation` belongs to one incoming message or click: it knows the channel and
thread to answer in, and the person to answer privately. The neutral bot never formats for a
platform; it hands a :class:`~bots.chat.render.Reply` to these methods and keeps the returned
reference to edit the same message later (progress, then the result; an approval card, then
who decided). A reply's attachments are sent by ``post`` and ``update`` as files in the same
thread.
"""

from __future__ import annotations

from typing import Protocol

from bots.chat.render import Reply


class Conversation(Protocol):
    async def post(self, reply: Reply) -> str:
        """Post ``reply`` in the message's thread (or privately, if it says so); return the
        platform's reference of the new message (Slack's ``ts``)."""
        ...

    async def update(self, ref: str, reply: Reply) -> None:
        """Replace the message ``ref`` with ``reply``."""
        ...

    async def whisper(self, reply: Reply) -> None:
        """Show ``reply`` to the person who sent the message or clicked, and nobody else
        (Slack's ephemeral message): refusals of a click, rate limits."""
        ...
