"""A model that is down, asked from Slack: the ack is not held up, the answer says what
failed and how, and the trail has the command's and the model call's records.

Real parts: the engine on the workspace's SQLite file, the Bolt app behind the bot's HTTP
server fed signed requests over loopback, the LLM registry with a declared
OpenAI-compatible model whose loopback port nobody listens on (a server that is down).
Slack's Web API is the loopback fake (the real one cannot be reached from here).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.harness import Load, slack_stack, team_flags, text_of, trail

pytestmark = pytest.mark.asyncio


def _closed_port_url() -> str:
    """A loopback URL where nothing listens: its port was bound once, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _with_a_model_that_is_down(api_url: str) -> dict[str, Any]:
    down = {
        "name": "down",
        "provider": "openai-compatible",
        "options": {"base_url": _closed_port_url(), "model": "any"},
        "context_window": 4096,
    }
    retry = {"attempts": 2, "initial_delay_s": 0.01, "max_delay_s": 0.02}
    return team_flags(api_url, llm={"models": [down], "retry": retry})


async def test_a_model_that_is_down_is_named_in_the_answer(load: Load) -> None:
    async with slack_stack(load, flags=_with_a_model_that_is_down) as stack:
        answer = await stack.command('run llm.ask model=down prompt="Say hello."')
        assert answer.status == 200 and "failed" not in answer.text
        await stack.settled(timeout=30)

        [post] = [call for call in stack.fake.calls_to("chat.postMessage") if call.ok]
        final = text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))
        assert "llm.ask" in final and "failed" in final
        assert "Could not reach down" in final and "llm.connection" in final
        [record] = trail(stack.engine, action="llm.ask")
        assert record.outcome == "error" and record.source == "slack"
        calls = trail(stack.engine, correlation_id=record.correlation_id, action="llm.call")
        assert calls and all(call.outcome == "error" for call in calls)
