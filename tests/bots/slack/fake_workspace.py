"""What a Slack workspace holds for a bot, and how the Web API methods a bot calls change it.

Kept apart from the HTTP server (:mod:`tests.bots.slack.fake_slack`) so the protocol rules
read in one place: the checks Slack makes before it accepts a message (a channel, some text
or blocks, Slack's block limits), that ``chat.update`` finds only messages that exist and
are not ephemeral, and the three steps of an external file upload (a URL for a declared
length, the bytes, then completion into a channel and thread). A method answers a dict
merged into ``{"ok": true}``, or raises :class:`SlackError` with Slack's error code. A
person's click on a posted button is built here too (:meth:`SlackWorkspace.click`), from the
message as it stands, so a test clicks only what the bot really shows.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.bots.slack.slack_payloads import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    block_actions,
)

# Slack's documented limits, so a bot that Slack would refuse is refused here too.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_MESSAGE_TEXT = 40000

Method = Callable[[dict[str, Any]], dict[str, Any]]


class SlackError(Exception):
    """An ``{"ok": false, "error": code}`` answer; ``details`` go to response_metadata."""

    def __init__(self, code: str, *details: str) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass
class SlackMessage:
    """A message as it stands now; ``versions`` keeps each post and update in order."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str | None = None  # who sees it, for an ephemeral message
    versions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class UploadedFile:
    """One external upload, from its URL being issued to its completion in a channel."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


class SlackWorkspace(ABC):
    """Messages, ephemeral messages, files and users, changed by the Web API methods."""

    def __init__(self) -> None:
        self.messages: list[SlackMessage] = []
        self.ephemerals: list[SlackMessage] = []
        self.uploads: dict[str, UploadedFile] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._epoch = int(time.time())

    def web_api_methods(self) -> dict[str, Method]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    @property
    @abstractmethod
    def base_url(self) -> str:
        """Where the server that serves this workspace listens."""

    def response_url(self, key: str | None = None) -> str:
        """A response_url to put in a payload; its posts land in ``responses``."""
        return f"{self.base_url}/response/{key or uuid.uuid4().hex}"

    def upload_url(self, file_id: str) -> str:
        return f"{self.base_url}/upload/{file_id}"

    def add_user(self, user_id: str, name: str, real_name: str = "") -> None:
        """Make ``users.info`` know ``user_id`` (unknown users answer ``user_not_found``)."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real_name or name,
            "is_bot": False,
            "profile": {"display_name": name, "real_name": real_name or name},
        }

    def message(self, channel: str, ts: str) -> SlackMessage:
        for message in self.messages:
            if message.channel == channel and message.ts == ts:
                return message
        raise KeyError(f"no message {ts} in {channel}")

    def thread(self, channel: str, thread_ts: str) -> list[SlackMessage]:
        """The bot's replies in a thread, in posting order."""
        return [m for m in self.messages if m.channel == channel and m.thread_ts == thread_ts]

    def click(self, message: SlackMessage, action_id: str, *, user_id: str) -> dict[str, Any]:
        """The ``block_actions`` payload of ``user_id`` clicking the button ``action_id`` on
        ``message`` as it stands now (its value, block and blocks), answerable through a
        response_url of this fake. Fails naming the buttons there are when it is absent."""
        buttons = [
            (block.get("block_id", ""), element)
            for block in message.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if element.get("type") == "button"
        ]
        for block_id, button in buttons:
            if button.get("action_id") == action_id:
                return block_actions(
                    action_id,
                    str(button.get("value", "")),
                    user_id=user_id,
                    message_ts=message.ts,
                    channel_id=message.channel,
                    thread_ts=message.thread_ts,
                    blocks=message.blocks,
                    block_id=str(block_id),
                    text=message.text,
                    label=str((button.get("text") or {}).get("text", action_id)),
                    response_url=self.response_url(),
                )
        present = [button.get("action_id") for _, button in buttons]
        raise AssertionError(f"no {action_id} button on message {message.ts}; buttons: {present}")

    @property
    def files(self) -> list[UploadedFile]:
        """Uploads that were completed into a channel (what people would see)."""
        return [upload for upload in self.uploads.values() if upload.completed]

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{self._epoch}.{self._seq:06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        # Bolt's authorization reads bot_id and user_id from here to know its own messages.
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Fake Team",
            "user": "logomesh",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = message_content(args)
        message = SlackMessage(channel, self._next_ts(), text, blocks, args.get("thread_ts"))
        message.versions.append({"text": text, "blocks": blocks})
        self.messages.append(message)
        return {"channel": channel, "ts": message.ts, "message": as_payload(message)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = message_content(args)
        try:
            message = self.message(channel, str(args.get("ts", "")))
        except KeyError:
            raise SlackError("message_not_found") from None
        message.text, message.blocks = text, blocks
        message.versions.append({"text": text, "blocks": blocks})
        return {"channel": channel, "ts": message.ts, "text": text, "message": as_payload(message)}

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        try:
            self.messages.remove(self.message(channel, ts))
        except KeyError:
            raise SlackError("message_not_found") from None
        return {"channel": channel, "ts": ts}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = message_content(args)
        user = args.get("user")
        if not user:
            raise SlackError("user_not_found")
        message = SlackMessage(channel, self._next_ts(), text, blocks, args.get("thread_ts"), user)
        message.versions.append({"text": text, "blocks": blocks})
        self.ephemerals.append(message)
        return {"message_ts": message.ts}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = args.get("filename"), str(args.get("length", ""))
        if not filename or not length.isdigit():
            raise SlackError("invalid_arguments", "[ERROR] filename and a numeric length needed")
        file_id = f"F{uuid.uuid4().hex[:10].upper()}"
        self.uploads[file_id] = UploadedFile(file_id, str(filename), int(length))
        return {"upload_url": self.upload_url(file_id), "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments", "[ERROR] files must be a list of {id, title}")
        uploads = [self.uploads.get(str(entry.get("id", ""))) for entry in entries]
        for upload in uploads:
            if upload is None or upload.content is None:
                raise SlackError("file_not_found")
            if len(upload.content) != upload.length:
                raise SlackError("file_upload_size_mismatch")
        done = []
        for entry, upload in zip(entries, uploads, strict=True):
            assert upload is not None
            upload.title = str(entry.get("title") or upload.filename)
            upload.channel = args.get("channel_id") or args.get("channels")
            upload.thread_ts = args.get("thread_ts")
            upload.initial_comment = args.get("initial_comment")
            upload.completed = True
            done.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        return {"files": done}


def message_content(args: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The channel, text and blocks of a message Slack would accept."""
    channel = str(args.get("channel", ""))
    if not channel:
        raise SlackError("channel_not_found")
    text = str(args.get("text") or "")
    blocks = args.get("blocks") or []
    if not text and not blocks and not args.get("attachments"):
        raise SlackError("no_text")
    if len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    check_blocks(blocks)
    return channel, text, list(blocks)


def check_blocks(blocks: Any) -> None:
    """Slack's ``invalid_blocks`` for the limits a bot's output can break."""
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks", f"[ERROR] no more than {MAX_BLOCKS} items allowed")
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or "type" not in block:
            raise SlackError("invalid_blocks", f"[ERROR] missing type [/blocks/{index}]")
        text = block.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
            raise SlackError(
                "invalid_blocks",
                f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters "
                f"[/blocks/{index}/text]",
            )
        fields = block.get("fields") or []
        too_long = any(len(str(f.get("text", ""))) > MAX_FIELD_TEXT for f in fields)
        if len(fields) > MAX_FIELDS or too_long:
            raise SlackError(
                "invalid_blocks", f"[ERROR] at most {MAX_FIELDS} fields of {MAX_FIELD_TEXT} "
                f"characters [/blocks/{index}/fields]"
            )  # fmt: skip


def as_payload(message: SlackMessage) -> dict[str, Any]:
    """The message object Slack returns (and puts in a later click's payload)."""
    payload: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": message.ts,
        "text": message.text,
        "blocks": message.blocks,
    }
    if message.thread_ts:
        payload["thread_ts"] = message.thread_ts
    return payload
