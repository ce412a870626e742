"""The loopback Slack's Web API, uploads and failures, as the real slack_sdk clients see them.

Every test drives :class:`tests.bots.slack.fake_slack.FakeSlack` on loopback (Slack itself
cannot be reached) with the real ``slack_sdk`` clients: AsyncWebClient with and without its
retry handlers, and the sync WebClient against the fake on its own thread. If these pass, a
Slack bot test that fails against the fake fails for the bot's reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from tests.bots.slack.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest_asyncio.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    yield AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url, retry_handlers=[])


@pytest.mark.asyncio
async def test_post_update_and_ephemeral_leave_the_messages_as_slack_would(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Real AsyncWebClient against the fake: a thread reply, its edit, an ephemeral."""
    parent = await client.chat_postMessage(channel="C1", text="root")
    reply = await client.chat_postMessage(
        channel="C1", thread_ts=parent["ts"], text="Running…", blocks=[section("Running…")]
    )
    await client.chat_update(channel="C1", ts=reply["ts"], text="Done", blocks=[section("*Done*")])
    whisper = await client.chat_postEphemeral(channel="C1", user="U2", text="only you")

    assert reply["ts"] > parent["ts"]
    [message] = fake_slack.thread("C1", parent["ts"])
    assert message.text == "Done"
    assert message.blocks == [section("*Done*")]
    assert [v["text"] for v in message.versions] == ["Running…", "Done"]
    [ephemeral] = fake_slack.ephemerals
    assert (ephemeral.user, ephemeral.text, ephemeral.ts) == (
        "U2",
        "only you",
        whisper["message_ts"],
    )
    update = await fake_slack.wait_for("chat.update")
    assert update.token == BOT_TOKEN and update.args["ts"] == reply["ts"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"channel": "C1", "ts": "1.000001", "text": "x"}, "message_not_found"),
        ({"channel": "", "ts": "1.000001", "text": "x"}, "channel_not_found"),
        pytest.param(
            {"channel": "C1", "ts": "1.000001"},
            "no_text",
            marks=pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing"),
        ),
    ],
)
async def test_update_refuses_what_slack_refuses(
    client: AsyncWebClient, arguments: dict[str, Any], error: str
) -> None:
    """Real AsyncWebClient: the fake answers Slack's error codes, which slack_sdk raises."""
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(**arguments)
    assert raised.value.response["error"] == error


@pytest.mark.asyncio
async def test_an_ephemeral_message_cannot_be_updated(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Real AsyncWebClient: as on Slack, chat.update does not find ephemeral messages."""
    whisper = await client.chat_postEphemeral(channel="C1", user="U2", text="only you")
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_update(channel="C1", ts=whisper["message_ts"], text="changed")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("blocks", "detail"),
    [
        ([section("x")] * 51, "no more than 50"),
        ([section("x" * 3001)], "less than 3001 characters"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "10 fields"),
        ([{"text": "no type"}], "missing type"),
    ],
)
async def test_blocks_over_slacks_limits_are_invalid(
    client: AsyncWebClient, blocks: list[dict[str, Any]], detail: str
) -> None:
    """Real AsyncWebClient: a message Slack would refuse is refused, saying which limit."""
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="x", blocks=blocks)
    assert raised.value.response["error"] == "invalid_blocks"
    assert detail in raised.value.response["response_metadata"]["messages"][0]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("token", "method", "error"),
    [
        ("xoxb-wrong", "chat.postMessage", "invalid_auth"),
        (None, "chat.postMessage", "not_authed"),
        (APP_TOKEN, "chat.postMessage", "not_allowed_token_type"),
        (BOT_TOKEN, "apps.connections.open", "not_allowed_token_type"),
        (BOT_TOKEN, "conversations.history", "unknown_method"),
    ],
)
async def test_tokens_are_checked_per_method(
    fake_slack: FakeSlack, token: str | None, method: str, error: str
) -> None:
    """Real AsyncWebClient with a wrong, missing or other-kind token, or an unknown method."""
    client = AsyncWebClient(token=token, base_url=fake_slack.api_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as raised:
        await client.api_call(method, json={"channel": "C1", "text": "x"})
    assert raised.value.response["error"] == error
    assert fake_slack.calls_to(method)[0].ok is False


@pytest.mark.asyncio
async def test_users_info_and_chat_delete(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """Real AsyncWebClient: users.info (a GET with query arguments) knows added users only;
    chat.delete removes a message, and a second delete finds nothing."""
    fake_slack.add_user("U1", "alice", "Alice Liddell")
    info = await client.users_info(user="U1")
    assert info["user"]["profile"]["display_name"] == "alice"
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="U404")
    posted = await client.chat_postMessage(channel="C1", text="soon gone")
    await client.chat_delete(channel="C1", ts=posted["ts"])
    assert fake_slack.messages == []
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_delete(channel="C1", ts=posted["ts"])


@pytest.mark.asyncio
async def test_files_upload_v2_round_trip(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """Real AsyncWebClient.files_upload_v2: URL, bytes to the fake's upload URL, completion
    into the thread; the fake keeps the content."""
    parent = await client.chat_postMessage(channel="C1", text="root")
    content = "line\n" * 5000
    result = await client.files_upload_v2(
        channel="C1", thread_ts=parent["ts"], filename="output.txt", content=content, title="Out"
    )

    [uploaded] = fake_slack.files
    assert result["file"]["id"] == uploaded.file_id
    assert uploaded.content == content.encode()
    assert (uploaded.filename, uploaded.title) == ("output.txt", "Out")
    assert (uploaded.channel, uploaded.thread_ts) == ("C1", parent["ts"])
    assert [c.method for c in fake_slack.calls[1:]] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


@pytest.mark.asyncio
async def test_a_failed_upload_is_not_completed(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Real files_upload_v2 with the upload POST failing (500): slack_sdk raises and the
    fake holds no file; completing an upload whose bytes never came is file_not_found."""
    fake_slack.fail_next("upload", status=500)
    with pytest.raises(SlackRequestError, match="Failed to upload a file"):
        await client.files_upload_v2(channel="C1", filename="a.txt", content="abc")
    assert fake_slack.files == []
    pending = fake_slack.calls_to("files.getUploadURLExternal")[0].response["file_id"]
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_completeUploadExternal(files=[{"id": pending, "title": "a"}])


@pytest.mark.asyncio
async def test_rate_limit_retry_handler_waits_for_retry_after(fake_slack: FakeSlack) -> None:
    """Real AsyncRateLimitErrorRetryHandler: the fake answers 429 with ``Retry-After: 2``;
    the client waits at least that long (without the header it would wait 1-2 s), retries
    once, and the message is posted once."""
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=fake_slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=2)
    await client.chat_postMessage(channel="C1", text="after the limit")

    limited, accepted = fake_slack.calls_to("chat.postMessage")
    assert (limited.status, limited.response["error"]) == (429, "ratelimited")
    assert accepted.ok and accepted.at - limited.at >= 2.0
    assert [m.text for m in fake_slack.messages] == ["after the limit"]


@pytest.mark.asyncio
async def test_without_a_retry_handler_429_reaches_the_caller(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Real AsyncWebClient without handlers sees what Slack sends: 429 and Retry-After."""
    fake_slack.fail_next("chat.update", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel="C1", ts="1.1", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"


@pytest.mark.asyncio
async def test_server_error_retry_handler_retries_a_500(fake_slack: FakeSlack) -> None:
    """Real AsyncServerErrorRetryHandler: one 500 is retried; two outlast one retry."""
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=fake_slack.api_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(
                max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    fake_slack.fail_next("chat.postMessage", status=500)
    await client.chat_postMessage(channel="C1", text="second try")
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [500, 200]

    fake_slack.fail_next("chat.postMessage", status=500, times=2)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="never")
    assert raised.value.response.status_code == 500
    assert [m.text for m in fake_slack.messages] == ["second try"]


@pytest.mark.asyncio
async def test_wait_for_names_what_never_came(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """Real AsyncWebClient: a wait that times out says which call it wanted and which came."""
    await client.auth_test()
    with pytest.raises(AssertionError, match=r"no chat.update call within 0.1s.*auth.test"):
        await fake_slack.wait_for("chat.update", timeout=0.1)
    mark = fake_slack.mark()
    await client.chat_postMessage(channel="C1", text="later")
    call = await fake_slack.wait_for("chat.postMessage", after=mark)
    assert call.args["text"] == "later"


def test_the_thread_fake_serves_a_sync_client(fake_slack_thread: FakeSlack) -> None:
    """Real sync slack_sdk WebClient against the fake on its own thread and loop; the test
    waits through ``blocking``, which refuses to run on a running loop (it would block)."""
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack_thread.api_url)
    posted = client.chat_postMessage(channel="C1", text="from a thread")
    call = fake_slack_thread.blocking(fake_slack_thread.wait_for("chat.postMessage"))
    assert call.response["ts"] == posted["ts"]
    assert fake_slack_thread.message("C1", str(posted["ts"])).text == "from a thread"

    async def misuse() -> None:
        fake_slack_thread.blocking(fake_slack_thread.wait_for("chat.postMessage"))

    with pytest.raises(RuntimeError, match="await it instead"):
        asyncio.run(misuse())
