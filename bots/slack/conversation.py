"""The Conversation port on Slack's Web API: post, update and whisper in one thread.

One :class:`SlackConversation` answers one message or click. Its replies stay together in
one thread: the message's own thread, or, for a slash command (which has none), the thread
under the bot's first reply, so the progress reply, the approval cards and the files sit
under one message. A reply's attachments are uploaded into that thread with
``files_upload_v2``.

A slash command works in any channel, but the bot posts only where it is a member; there
the person is told, through the command's ``response_url``, to invite it, and nothing runs.
Ephemeral messages (a private reply, a whisper) cannot be edited with ``chat.update``; an
update of one is sent through the click's ``response_url`` when there is one (Slack's way
to replace it) and otherwise shown as a new ephemeral message.

The client's retry handlers (``bots.slack.app.web_client``) already wait out a 429 and
retry a 5xx; an error that survives them is raised to the neutral bot, which logs it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.chat.message import ChatPlace
from bots.chat.render import Attachment, Reply
from bots.slack.blocks import SlackMessage, to_slack

log = logging.getLogger(__name__)

# A reference to an ephemeral message: it has a ``ts`` but chat.update cannot reach it.
EPHEMERAL = "ephemeral:"
# What Slack answers a post in a channel the bot is not in.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


class SlackConversation:
    """Answers in ``place``; ``user_id`` is the one a whisper is shown to."""

    def __init__(
        self,
        client: AsyncWebClient,
        place: ChatPlace,
        user_id: str,
        *,
        response_url: str | None = None,
    ) -> None:
        self._client = client
        self._place = place
        self._user_id = user_id
        self._thread = place.thread
        self._response_url = response_url
        self._told_to_invite = False

    @property
    def thread(self) -> str | None:
        """The thread the replies go to (the first reply's ``ts`` once it is posted)."""
        return self._thread

    async def post(self, reply: Reply) -> str:
        message = to_slack(reply)
        if reply.private:
            ref = EPHEMERAL + await self._ephemeral(message)
        else:
            try:
                answer = await self._client.chat_postMessage(
                    channel=self._place.channel,
                    thread_ts=self._thread,
                    text=message.text,
                    blocks=message.blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                await self._explain_if_not_a_member(exc)
                raise
            ref = str(answer["ts"])
            if self._thread is None:
                self._thread = ref
        await self._upload(message.attachments)
        return ref

    async def update(self, ref: str, reply: Reply) -> None:
        message = to_slack(reply)
        if ref.startswith(EPHEMERAL):
            await self._replace_ephemeral(message)
        else:
            await self._client.chat_update(
                channel=self._place.channel, ts=ref, text=message.text, blocks=message.blocks
            )
        await self._upload(message.attachments)

    async def whisper(self, reply: Reply) -> None:
        message = to_slack(reply)
        await self._ephemeral(message)
        # Files cannot be ephemeral: a whisper that was cut keeps its cut note only.
        if message.attachments:
            log.info("Not uploading %d file(s) of a private reply", len(message.attachments))

    async def _ephemeral(self, message: SlackMessage) -> str:
        answer = await self._client.chat_postEphemeral(
            channel=self._place.channel,
            user=self._user_id,
            thread_ts=self._thread,
            text=message.text,
            blocks=message.blocks,
        )
        return str(answer.get("message_ts", ""))

    async def _explain_if_not_a_member(self, error: SlackApiError) -> None:
        """The bot cannot post where it is not a member (a slash command works anywhere):
        tell the person, through the command's response URL, how to let it in."""
        code = error.response.get("error") if error.response else None
        if code not in _NOT_A_MEMBER or self._response_url is None or self._told_to_invite:
            return
        self._told_to_invite = True
        text = (
            "LogoMesh cannot post in this channel, so it ran nothing: invite it with "
            "`/invite @LogoMesh`, or ask in a direct message."
        )
        hook = AsyncWebhookClient(self._response_url, retry_handlers=self._client.retry_handlers)
        await hook.send(text=text, response_type="ephemeral")

    async def _replace_ephemeral(self, message: SlackMessage) -> None:
        if self._response_url is None:
            await self._ephemeral(message)
            return
        hook = AsyncWebhookClient(self._response_url, retry_handlers=self._client.retry_handlers)
        answer = await hook.send(text=message.text, blocks=message.blocks, replace_original=True)
        if answer.status_code >= 300:
            log.warning("Slack refused to replace an ephemeral message: HTTP %s %s",
                        answer.status_code, answer.body[:200])  # fmt: skip

    async def _upload(self, attachments: tuple[Attachment, ...]) -> None:
        if not attachments:
            return
        uploads: list[dict[str, Any]] = [
            {"filename": a.filename, "content": a.content, "title": a.title or a.filename}
            for a in attachments
        ]
        try:
            await self._client.files_upload_v2(
                file_uploads=uploads, channel=self._place.channel, thread_ts=self._thread
            )
        except SlackApiError as exc:
            # The reply itself is posted; say in its thread why its files are missing.
            code = exc.response.get("error", "unknown error") if exc.response else str(exc)
            names = ", ".join(a.filename for a in attachments)
            log.warning("Could not upload %s: %s", names, code)
            note = f"Could not attach {names} ({code}); the app needs the files:write scope."
            await self._client.chat_postMessage(
                channel=self._place.channel, thread_ts=self._thread, text=note
            )
