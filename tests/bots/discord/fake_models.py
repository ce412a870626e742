"""What the loopback Discord records: requests and their answers, messages, interactions.

These are the objects a test asserts on (``fake.calls``, ``fake.messages``, what
``fake.slash(...)`` returns), so each keeps what Discord would show a person (a message's
text, buttons and attachments, its every version) and what a bot did with it (the
interaction's responses, the message's edits), in the order it happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.bots.discord import discord_payloads as payloads


@dataclass(frozen=True)
class RestRequest:
    """One REST request as a route sees it (the JSON body is ``payload_json`` if multipart)."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]]
    authorization: str | None


@dataclass(frozen=True)
class RestCall:
    """One request the fake received, in arrival order, with what it answered. ``route`` is
    the matched template with its method (``"POST /webhooks/{app}/{token}"``)."""

    method: str
    path: str
    route: str
    json: Any
    files: list[tuple[str, bytes]]
    status: int
    response: Any
    query: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def template(self) -> str:
        return self.route.split(" ", 1)[1]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> int | None:
        """Discord's error code (10062, 50027, 50035 ...) for a failed call."""
        return self.response.get("code") if isinstance(self.response, dict) else None


@dataclass
class FakeMessage:
    """A message as it stands now; ``history`` keeps each version (create, then each edit)."""

    id: str
    channel_id: str
    guild_id: str | None
    author: dict[str, Any]
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    interaction_id: str | None = None  # the interaction it answers (responses, follow-ups)
    interaction_user: dict[str, Any] | None = None  # who started that interaction
    webhook: bool = False  # sent through an interaction's webhook
    edits: int = 0
    deleted: bool = False
    mentions: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=payloads.iso_now)
    edited: str | None = None
    _attachment_ids: list[str] = field(default_factory=list)

    @property
    def author_id(self) -> str:
        return str(self.author["id"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & payloads.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Still the "<bot> is thinking..." placeholder of a deferred interaction."""
        return bool(self.flags & payloads.LOADING)

    @property
    def text(self) -> str:
        """Everything a person reads: content, each embed's texts, the buttons' labels."""
        parts: list[Any] = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title"), embed.get("description")]
            parts.append((embed.get("author") or {}).get("name"))
            for embed_field in embed.get("fields") or []:
                parts += [embed_field.get("name"), embed_field.get("value")]
            parts.append((embed.get("footer") or {}).get("text"))
        parts += [label for label, _, _ in self.buttons]
        return "\n".join(str(part) for part in parts if part)

    @property
    def buttons(self) -> list[tuple[str, str, int]]:
        """``(label, custom_id, style)`` of every button, row by row (link buttons: url)."""
        found = []
        for row in self.components:
            for component in row.get("components") or []:
                if component.get("type") == 2:
                    target = component.get("custom_id") or component.get("url") or ""
                    found.append((component.get("label") or "", target, component.get("style", 1)))
        return found

    def apply(self, body: dict[str, Any], files: list[tuple[str, bytes]] | None = None) -> None:
        """Take a message body's fields (the first version)."""
        self._take(body, files or [])
        self.history.append(self._version())

    def edit(self, body: dict[str, Any], files: list[tuple[str, bytes]] | None = None) -> None:
        """An edit: the fields it names change; a "thinking" message stops loading."""
        self._take({k: v for k, v in body.items() if k != "flags"}, files or [])
        self.flags &= ~payloads.LOADING
        self.edits += 1
        self.edited = payloads.iso_now()
        self.history.append(self._version())

    def _take(self, body: dict[str, Any], files: list[tuple[str, bytes]]) -> None:
        if "content" in body:
            self.content = body["content"] or ""
        if "embeds" in body:
            self.embeds = list(body["embeds"] or [])
        if "components" in body:
            self.components = list(body["components"] or [])
        if "flags" in body:
            self.flags = int(body["flags"] or 0)
        if "attachments" in body:
            # discord.py lists the attachments to keep by id (new files by their index).
            keep = {str(a.get("id")) for a in body["attachments"] or []}
            kept = [
                (i, a)
                for i, a in zip(self._attachment_ids, self.attachments, strict=True)
                if i in keep
            ]
            self._attachment_ids = [i for i, _ in kept]
            self.attachments = [a for _, a in kept]
        for upload in files:
            self._attachment_ids.append(f"{self.id}{len(self._attachment_ids):03d}")
            self.attachments.append(upload)

    def _version(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": list(self.embeds),
            "components": list(self.components),
            "flags": self.flags,
            "attachments": [name for name, _ in self.attachments],
        }

    def payload(self) -> dict[str, Any]:
        """The message as Discord's API and gateway show it."""
        data: dict[str, Any] = {
            "id": self.id,
            "channel_id": self.channel_id,
            "author": self.author,
            "content": self.content,
            "timestamp": self.created,
            "edited_timestamp": self.edited,
            "tts": False,
            "mention_everyone": False,
            "mentions": self.mentions,
            "mention_roles": [],
            "attachments": [
                {
                    "id": attachment_id,
                    "filename": name,
                    "size": len(content),
                    "url": f"https://cdn.discordapp.invalid/attachments/{self.channel_id}/{attachment_id}/{name}",
                    "proxy_url": f"https://media.discordapp.invalid/attachments/{attachment_id}/{name}",
                    "content_type": "application/octet-stream",
                }
                for attachment_id, (name, content) in zip(
                    self._attachment_ids, self.attachments, strict=True
                )
            ],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": 0,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = self.guild_id
        if self.webhook:
            data.update(webhook_id=payloads.APP_ID, application_id=payloads.APP_ID)
        if self.interaction_id is not None:
            data["interaction_metadata"] = {
                "id": self.interaction_id,
                "type": payloads.APPLICATION_COMMAND,
                "user": self.interaction_user or self.author,
                "authorizing_integration_owners": {},
            }
        return data


@dataclass
class FakeInteraction:
    """One interaction a person started, and every callback body the bot answered it with."""

    id: str
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: str
    created_at: float  # time.monotonic() when the person acted (earlier with created_ago_s)
    message_id: str | None = None  # the clicked message, for a component interaction
    responses: list[dict[str, Any]] = field(default_factory=list)
    response_type: int | None = None
    choices: list[dict[str, Any]] | None = None  # an autocomplete's answer
    original_message_id: str | None = None
    token_expired: bool = False

    @property
    def person(self) -> dict[str, Any]:
        """The user payload of whoever acted (a member's user in a guild)."""
        member = self.payload.get("member")
        return dict(member["user"] if member else self.payload["user"])

    @property
    def acknowledged(self) -> bool:
        return bool(self.responses)

    def expired(self, ttl_s: float) -> bool:
        return self.token_expired or time.monotonic() - self.created_at > ttl_s
