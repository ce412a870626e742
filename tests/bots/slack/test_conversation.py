"""The Conversation port on Slack's Web API: threads, files, and ephemeral messages.

Real parts: ``SlackConversation`` with slack_sdk's ``AsyncWebClient`` (and its retry
handlers) and ``AsyncWebhookClient`` for response URLs; the Web API and the response URL are
the loopback fake's, since Slack cannot be reached from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bots.chat.message import ChatPlace
from bots.chat.render import Attachment, Reply, Text
from bots.slack.app import web_client
from bots.slack.conversation import EPHEMERAL, SlackConversation
from logomesh.bot_settings import SlackSettings
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.fake_slack import FakeSlack
from tests.bots.slack.harness import ALICE

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield web_client(SlackSettings(api_url=fake_slack.api_url), fake_slack.bot_token)


def _reply(text: str, *, private: bool = False) -> Reply:
    return Reply((Text(text),), text, private=private)


async def test_a_conversation_without_a_thread_keeps_to_its_first_reply(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A slash command has no thread: the first post starts one, and the rest (a card, a
    whisper, the files of an update) go into it."""
    talk = SlackConversation(client, ChatPlace(slack.TEAM_ID, slack.CHANNEL_ID), ALICE)
    first = await talk.post(_reply("working"))
    card = await talk.post(_reply("a card"))
    await talk.update(first, Reply((Text("done"),), "done", (Attachment("out.txt", "all"),)))
    await talk.whisper(_reply("only you"))
    assert fake_slack.message(slack.CHANNEL_ID, first).thread_ts is None
    assert fake_slack.message(slack.CHANNEL_ID, card).thread_ts == first
    assert fake_slack.message(slack.CHANNEL_ID, first).text == "done"
    [upload] = fake_slack.files
    assert upload.content == b"all" and upload.thread_ts == first
    [whisper] = fake_slack.ephemerals
    assert whisper.user == ALICE and whisper.thread_ts == first


async def test_an_ephemeral_reply_is_replaced_through_the_response_url(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A private reply cannot be edited with chat.update: with a response URL it is
    replaced there; without one, the update comes as a new private message."""
    url = fake_slack.response_url("click-1")
    talk = SlackConversation(
        client, ChatPlace(slack.TEAM_ID, slack.CHANNEL_ID, "1.0"), ALICE, response_url=url
    )
    ref = await talk.post(_reply("just for you", private=True))
    assert ref.startswith(EPHEMERAL)
    await talk.update(ref, _reply("decided"))
    [response] = fake_slack.responses
    assert response.key == "click-1" and response.body["replace_original"] is True
    assert response.body["text"] == "decided"
    assert fake_slack.calls_to("chat.update") == []

    plain = SlackConversation(client, ChatPlace(slack.TEAM_ID, slack.CHANNEL_ID, "1.0"), ALICE)
    other = await plain.post(_reply("also private", private=True))
    await plain.update(other, _reply("updated"))
    assert [m.text for m in fake_slack.ephemerals] == ["just for you", "also private", "updated"]


async def test_a_file_slack_refuses_is_explained_in_the_thread(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """The reply stands; the thread says which file is missing and why."""
    talk = SlackConversation(client, ChatPlace(slack.TEAM_ID, slack.CHANNEL_ID), ALICE)
    fake_slack.fail_next("files.getUploadURLExternal", status=403, times=5)
    ref = await talk.post(Reply((Text("result"),), "result", (Attachment("out.txt", "all"),)))
    assert fake_slack.message(slack.CHANNEL_ID, ref).text == "result"
    [note] = fake_slack.thread(slack.CHANNEL_ID, ref)
    assert "Could not attach out.txt" in note.text and "files:write" in note.text
    assert fake_slack.files == []
