"""Slash commands, mentions and direct messages, end to end over HTTP mode.

Real parts: the engine on the workspace's SQLite file, the Bolt app behind the bot's own
aiohttp server (``bots.slack.http``), fed signed requests over real loopback HTTP; Slack's
Web API is the loopback fake (``tests/bots/slack/fake_slack.py``), which records what the
bot posted, updated and uploaded, since Slack itself cannot be reached from here. A command
held at the test's gate (``tests/bots/slack/gate.py``) shows the ack came before the work.
"""

from __future__ import annotations

import time

import pytest

from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.fake_workspace import SlackError
from tests.bots.slack.harness import (
    ALICE,
    STRANGER,
    SlackStack,
    text_of,
    trail,
)

pytestmark = pytest.mark.asyncio


async def test_a_slash_command_is_acked_before_it_runs_then_answered_in_one_edited_reply(
    stack: SlackStack,
) -> None:
    """The ack (an empty 200) comes back while the command is held at the gate, so before
    it could end; the bot posts one progress reply, edits it as progress comes while the
    command still runs, and replaces it with the result once the gate opens."""
    [answer] = await stack.acked(stack.command("run test.held"))
    assert answer.status == 200 and answer.text == ""
    await stack.held(1)
    edited = await stack.fake.wait_for(
        "chat.update", lambda call: "step 1 of 2" in str(call.args.get("blocks"))
    )
    [post] = stack.fake.calls_to("chat.postMessage")
    assert post.ok and post.args["channel"] == slack.CHANNEL_ID
    assert "test.held" in post.args["text"]
    assert edited.args["ts"] == post.response["ts"]
    message = stack.fake.message(slack.CHANNEL_ID, post.response["ts"])
    assert "✅" not in text_of(message)  # no result while the command is held

    stack.gate.open()
    await stack.settled()
    final = text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))
    assert "✅" in final and "test.held" in final and "done" in final
    assert stack.fake.calls_to("chat.postMessage") == [post]  # one reply, edited
    [record] = trail(stack.engine, action="test.held")
    assert record.source == "slack" and record.actor == "alice"
    assert record.correlation_id and record.correlation_id in final  # the context names it


async def test_a_mention_is_answered_in_its_thread(stack: SlackStack) -> None:
    """``@LogoMesh run ...`` in a channel: the reply goes under the mention."""
    payload = slack.app_mention("run test.slow seconds=0", user_id=ALICE)
    answer = await stack.event(payload)
    assert answer.status == 200
    await stack.settled()
    [post] = stack.fake.calls_to("chat.postMessage")
    assert post.args["thread_ts"] == payload["event"]["ts"]
    assert "✅" in text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))


async def test_a_direct_message_is_answered_and_the_bots_own_and_edits_are_ignored(
    stack: SlackStack,
) -> None:
    """A person's DM is read; a bot's message, an edit (subtype) and a repeated delivery of
    the same event are acknowledged and not run again."""
    payload = slack.im_message("run test.slow seconds=0", user_id=ALICE)
    assert (await stack.event(payload)).status == 200
    # Slack's redelivery after a late ack: the same event, signed anew a second later.
    again = await stack.post(slack.event_body(payload), timestamp=int(time.time()) + 1)
    assert again.status == 200
    for ignored in (
        slack.im_message("run test.slow", user_id=ALICE, bot_id=slack.BOT_ID),
        slack.im_message("run test.slow", user_id=ALICE, subtype="message_changed"),
    ):
        assert (await stack.event(ignored)).status == 200
    await stack.settled()
    [post] = stack.fake.calls_to("chat.postMessage")
    assert post.args["channel"] == slack.IM_CHANNEL_ID
    assert len(trail(stack.engine, action="test.slow")) == 1


async def test_an_unknown_user_is_refused_with_what_an_admin_must_add(
    stack: SlackStack,
) -> None:
    """Nothing runs for an unmapped Slack user; they alone see the exact TOML to add, and
    the refusal is in the audit trail."""
    answer = await stack.command("run test.slow seconds=0", user=STRANGER)
    assert answer.status == 200
    await stack.settled()
    assert stack.fake.calls_to("chat.postMessage") == []
    [whisper] = stack.fake.ephemerals
    assert whisper.user == STRANGER
    shown = text_of(whisper)
    assert "[[security.identities]]" in shown and f'slack = ["{STRANGER}"]' in shown
    [record] = trail(stack.engine, action="test.slow")
    assert record.outcome == "denied" and record.source == "slack"


async def test_a_failing_command_says_what_failed(stack: SlackStack) -> None:
    await stack.command("run test.fail note=prod")
    await stack.settled()
    [post] = stack.fake.calls_to("chat.postMessage")
    final = text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))
    assert "❌" in final and "The deploy target refused the release (prod)" in final


async def test_long_output_is_cut_and_attached_whole_in_the_thread(stack: SlackStack) -> None:
    """400 lines do not fit a message: the reply shows the start and a note, and the whole
    output is uploaded as a file in the reply's thread."""
    await stack.command("run test.long lines=400")
    await stack.settled()
    [post] = stack.fake.calls_to("chat.postMessage")
    final = text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))
    assert "line 00000" in final and "cut" in final and "line 00399" not in final
    [upload] = stack.fake.files
    assert upload.content is not None
    assert upload.content.decode().count("of the build log") == 400
    assert upload.channel == slack.CHANNEL_ID
    complete = stack.fake.calls_to("files.completeUploadExternal")[-1]
    assert complete.args.get("thread_ts") == post.response["ts"]


async def test_text_cannot_ping_the_channel(stack: SlackStack) -> None:
    """What a person typed is escaped: ``<!channel>`` reaches Slack as text, not markup."""
    await stack.command("run <!channel>")
    await stack.settled()
    sent = [str(call.args) for call in stack.fake.calls if call.method.startswith("chat.")]
    assert sent and not any("<!channel>" in args for args in sent)
    assert any("&lt;!channel&gt;" in args for args in sent)


async def test_a_channel_the_bot_is_not_in_gets_told_how_to_invite_it(
    stack: SlackStack,
) -> None:
    """A slash command works in any channel, the bot posts only where it is a member: the
    person is told through the command's response URL, and nothing runs."""

    def not_in_channel(args: dict[str, object]) -> dict[str, object]:
        raise SlackError("not_in_channel")

    # Slack's answer in a channel the bot was never invited to (the fake has no membership).
    stack.fake._methods["chat.postMessage"] = not_in_channel
    answer = await stack.command(
        "run test.slow seconds=0", response_url=stack.fake.response_url("cmd")
    )
    assert answer.status == 200
    await stack.settled()
    [response] = stack.fake.responses
    assert "/invite @LogoMesh" in response.body["text"]
    assert response.body["response_type"] == "ephemeral"
    assert trail(stack.engine, action="test.slow") == []


async def test_a_mentioned_strangers_name_comes_from_users_info(stack: SlackStack) -> None:
    """An event carries only a user id: the name is asked once (users.info), and the lines
    an admin is to add for an unmapped person suggest it."""
    stack.fake.add_user(STRANGER, "Sam Stranger")
    for _ in range(2):
        await stack.event(slack.app_mention("run test.slow", user_id=STRANGER))
    await stack.settled()
    assert len(stack.fake.calls_to("users.info")) == 1
    snippets = [text_of(m) for m in stack.fake.ephemerals]
    assert len(snippets) == 2 and all('name = "sam-stranger"' in s for s in snippets)
