"""HTTP mode's gate: what is refused before Bolt, with which status and which words.

Real parts: the bot's aiohttp server (``bots.slack.http``) with the real Bolt app and a real
engine behind it, reached over loopback HTTP with requests signed as Slack signs them
(``tests/bots/slack/slack_payloads.py``); the Web API it would answer through is the
loopback fake, since Slack cannot be reached from here. Each refusal is checked to have run
nothing: no call to Slack, no audit record.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.harness import ALICE, SECRET, SlackStack, trail

pytestmark = pytest.mark.asyncio


def _command_body(text: str = "run test.slow seconds=0") -> str:
    return slack.form_body(slack.slash_command(text, user_id=ALICE))


async def _nothing_ran(stack: SlackStack) -> None:
    await stack.settled()
    assert [call.method for call in stack.fake.calls if call.method != "auth.test"] == []
    assert trail(stack.engine) == []


async def test_a_bad_signature_is_refused_with_where_the_secret_is(stack: SlackStack) -> None:
    body = _command_body()
    headers = slack.signed_headers("another-apps-secret", body)
    answer = await stack.post(body, headers=headers)
    assert answer.status == 401
    assert "Bad signature" in answer.text and "SLACK_SIGNING_SECRET" in answer.text
    assert headers["X-Slack-Signature"] not in answer.text
    await _nothing_ran(stack)


async def test_a_body_changed_after_signing_is_refused(stack: SlackStack) -> None:
    headers = slack.signed_headers(SECRET, _command_body("run test.slow"))
    answer = await stack.post(_command_body("run test.guarded"), headers=headers)
    assert answer.status == 401 and "Bad signature" in answer.text
    await _nothing_ran(stack)


@pytest.mark.parametrize("age_s", [301, -301, 3600])
async def test_a_stale_or_future_timestamp_is_refused(stack: SlackStack, age_s: int) -> None:
    """Outside the 5-minute window either way; the answer points at the clock."""
    answer = await stack.post(_command_body(), timestamp=int(time.time()) - age_s)
    assert answer.status == 401
    assert "Stale request" in answer.text and "clock" in answer.text
    assert ("in the future" in answer.text) == (age_s < 0)
    await _nothing_ran(stack)


async def test_a_replayed_request_is_refused_and_logged_without_its_signature(
    stack: SlackStack, caplog: pytest.LogCaptureFixture
) -> None:
    """The same signed request twice inside the window: the first runs, the copy does not."""
    body = _command_body()
    headers = slack.signed_headers(SECRET, body)
    first = await stack.post(body, headers=headers)
    replay = await stack.post(body, headers=headers)
    assert first.status == 200
    assert replay.status == 401 and "Replayed request" in replay.text
    await stack.settled()
    assert len(trail(stack.engine, action="test.slow")) == 1
    assert "Refused a replayed Slack request" in caplog.text
    signature = headers["X-Slack-Signature"]
    assert signature not in caplog.text and signature.removeprefix("v0=") not in caplog.text


@pytest.mark.parametrize(
    "missing",
    [("X-Slack-Signature",), ("X-Slack-Request-Timestamp",), ("X-Slack-Signature",
     "X-Slack-Request-Timestamp")],
)  # fmt: skip
async def test_a_missing_header_is_named(stack: SlackStack, missing: tuple[str, ...]) -> None:
    body = _command_body()
    headers = {k: v for k, v in slack.signed_headers(SECRET, body).items() if k not in missing}
    answer = await stack.post(body, headers=headers)
    assert answer.status == 401
    assert answer.text.startswith("Missing header")
    for name in missing:
        assert name in answer.text
    await _nothing_ran(stack)


async def test_a_timestamp_that_is_no_number_is_named(stack: SlackStack) -> None:
    body = _command_body()
    headers = {**slack.signed_headers(SECRET, body), "X-Slack-Request-Timestamp": "yesterday"}
    answer = await stack.post(body, headers=headers)
    assert answer.status == 401
    assert "X-Slack-Request-Timestamp" in answer.text and "'yesterday'" in answer.text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"type": "event_callback", ', "the body is not JSON"),
        ("[1, 2, 3]", "neither JSON nor a URL-encoded form"),  # no object: read as a form
        ('{"event": {}}', "JSON object with a 'type'"),
        ("payload=%7Bnot-json", "the payload= field is not JSON"),
        ('payload="just a string"', "an interaction carries a JSON object"),
        ("payload=%5B%5D", "an interaction carries a JSON object"),
        ("user_id=U1&text=hello", "expected a slash command (command=...)"),
        ("a=1&&&=b=c", "neither JSON nor a URL-encoded form"),
        (b"command=%2Flogomesh&text=\xff\xfe", "not UTF-8"),
    ],
)
async def test_a_malformed_payload_is_a_400_that_says_what_is_wrong(
    stack: SlackStack, body: str | bytes, expected: str
) -> None:
    """Signed correctly (so it passes the signature), but not what Slack sends."""
    answer = await stack.post(body)
    assert answer.status == 400, answer.text
    assert answer.text.startswith("Malformed request") and expected in answer.text
    await _nothing_ran(stack)


async def test_a_1_mb_body_is_refused_unread(stack: SlackStack) -> None:
    """Larger than bots.slack.max_body_bytes (256 KiB): 413, before the signature is read."""
    body = "command=%2Flogomesh&text=" + "x" * 1_048_576
    answer = await stack.post(body)
    assert answer.status == 413
    assert "262144 bytes" in answer.text and "bots.slack.max_body_bytes" in answer.text
    await _nothing_ran(stack)


async def test_a_chunked_body_past_the_limit_is_refused_too(stack: SlackStack) -> None:
    """No Content-Length to go by: the limit holds while reading."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"x" * 16_384  # 1 MiB in all

    async with stack.session.post(
        stack.url, data=chunks(), headers={"Content-Type": slack.FORM}
    ) as response:
        assert response.status == 413
        assert "bots.slack.max_body_bytes" in await response.text()


async def test_a_payload_missing_a_field_is_answered_not_crashed(stack: SlackStack) -> None:
    """Signed and well-formed, but a slash command without its user: the ack says so."""
    fields = slack.slash_command("run test.slow", user_id=ALICE)
    del fields["user_id"]
    answer = await stack.post(slack.form_body(fields))
    assert answer.status == 200
    assert "'user_id'" in answer.text and "not one Slack sends" in answer.text
    await _nothing_ran(stack)


async def test_url_verification_and_health(stack: SlackStack) -> None:
    """Saving the Request URL in Slack's settings works (Bolt answers the challenge), and
    /healthz answers a load balancer."""
    answer = await stack.event(slack.url_verification("the-challenge"))
    assert answer.status == 200 and "the-challenge" in answer.text
    health_url = stack.url.replace("/slack/events", "/healthz")
    async with stack.session.get(health_url) as response:
        assert response.status == 200
        assert json.loads(await response.text()) == {"ok": True, "in_flight": 0}
