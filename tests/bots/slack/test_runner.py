"""``logomesh bot slack``: what stops it at start, and a real process from launch to SIGTERM.

Real parts: the ``logomesh`` CLI (in this process through typer's runner for the refusals,
and as a real ``python -m logomesh bot slack`` process for the end-to-end test), its engine
on the workspace's SQLite file and the local embedding model, signed HTTP requests over
loopback, and a real SIGTERM; Slack's Web API is the loopback fake on its own thread, since
Slack cannot be reached from here. The fake holds the bot's posts at a gate
(``tests/bots/slack/gate.py``) to show the ack came before the work.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bots.slack.app import web_client
from bots.slack.runner import check_bot_token
from bots.slack.tokens import SlackMode, read_tokens
from logomesh.audit.query import AuditFilter
from logomesh.bot_settings import SlackSettings
from logomesh.cli.app import app
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.errors import ConfigError
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.fake_slack import BOT_TOKEN, FakeSlack
from tests.bots.slack.harness import ALICE, SECRET, text_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("mode", "named"),
    [
        (SlackMode.SOCKET, ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")),
        (SlackMode.HTTP, ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")),
    ],
)
def test_each_missing_token_is_named_with_where_to_get_it(
    mode: SlackMode, named: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as missing:
        read_tokens({}, mode)
    message = missing.value.user_message
    for variable in named:
        assert f"{variable} is not set" in message
    assert "OAuth & Permissions -> Bot User OAuth Token" in message
    other = "SLACK_SIGNING_SECRET" if mode is SlackMode.SOCKET else "SLACK_APP_TOKEN"
    assert other not in message  # only what this mode needs
    if mode is SlackMode.SOCKET:
        assert "App-Level Tokens" in message and "connections:write" in message
    else:
        assert "Basic Information -> App Credentials -> Signing Secret" in message


def test_a_token_of_the_wrong_kind_is_named_without_showing_it() -> None:
    user_token = "xoxp-1234-5678-secretpart"
    with pytest.raises(ConfigError) as wrong:
        read_tokens({"SLACK_BOT_TOKEN": user_token, "SLACK_APP_TOKEN": "xapp-1"}, SlackMode.SOCKET)
    message = wrong.value.user_message
    assert "SLACK_BOT_TOKEN starts with 'xoxp-', not 'xoxb-'" in message
    assert "secretpart" not in message and "1234" not in message


def test_tokens_are_never_in_a_repr() -> None:
    tokens = read_tokens(
        {"SLACK_BOT_TOKEN": "xoxb-very-secret", "SLACK_SIGNING_SECRET": "shh-secret"},
        SlackMode.HTTP,
    )
    assert tokens.bot_token == "xoxb-very-secret"
    assert "secret" not in repr(tokens)


def _invoke(workspace: Path, test_env: dict[str, str], *args: str, **env: str) -> tuple[int, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LOGOMESH_", "SLACK_"))}
    result = CliRunner().invoke(
        app, ["--workspace", str(workspace), *args], env={**keep, **test_env, **env}
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--socket", "--http", "127.0.0.1:3000"), "Choose one of --socket and --http"),
        (("--http", "3000"), "--http wants HOST:PORT, for example 0.0.0.0:3000"),
        (("--http", "localhost:99999"), "--http wants HOST:PORT"),
    ],
)
def test_bad_flags_are_refused(
    workspace: Path, test_env: dict[str, str], args: tuple[str, ...], expected: str
) -> None:
    code, output = _invoke(workspace, test_env, "bot", "slack", *args)
    assert code == 2 and expected in output


def test_the_bots_are_off_unless_enabled(workspace: Path, test_env: dict[str, str]) -> None:
    code, output = _invoke(workspace, test_env, "bot", "slack", SLACK_BOT_TOKEN="xoxb-1")
    assert code == 2
    assert "The chat bots are off" in output and "LOGOMESH_BOTS__ENABLED=true" in output


def test_missing_tokens_stop_the_cli_with_the_fix(
    workspace: Path, test_env: dict[str, str]
) -> None:
    code, output = _invoke(
        workspace, test_env, "bot", "slack", "--http", "127.0.0.1:3000",
        LOGOMESH_BOTS__ENABLED="true",
    )  # fmt: skip
    assert code == 2
    assert "SLACK_BOT_TOKEN is not set" in output and "SLACK_SIGNING_SECRET is not set" in output


def test_bot_appears_in_the_help(workspace: Path, test_env: dict[str, str]) -> None:
    code, output = _invoke(workspace, test_env, "bot", "slack", "--help")
    assert code == 0 and "--socket" in output and "--http HOST:PORT" in output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _signed_command(url: str, text: str) -> httpx.Response:
    body = slack.form_body(slack.slash_command(text, user_id=ALICE))
    return httpx.post(url, content=body, headers=slack.signed_headers(SECRET, body), timeout=10)


@pytest.mark.slow
def test_the_bot_process_serves_then_stops_cleanly_on_sigterm(
    workspace: Path, test_env: dict[str, str], fake_slack_thread: FakeSlack
) -> None:
    """Launched cold, the bot warms the model in the background and acks a natural language
    request before any of its work: while the fake holds the bot's posts at a gate, the ack
    is back, with nothing posted and nothing audited. Once the gate opens, a plain command
    is answered and the model-backed reply follows; on SIGTERM the bot stops taking
    requests, closes the engine and exits 0."""
    fake = fake_slack_thread
    config = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[bots]\nenabled = true\nshutdown_grace_s = 0.5\nprogress_interval_s = 0.1\n"
        f'[bots.slack]\napi_url = "{fake.api_url}"\n'
        '[[security.identities]]\nname = "alice"\nroles = ["developer"]\n'
        f'slack = ["{ALICE}"]\n',
        encoding="utf-8",
    )
    port = _free_port()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LOGOMESH_", "SLACK_"))}
    env = {
        **keep,
        **test_env,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }
    command = [sys.executable, "-m", "logomesh", "--workspace", str(workspace)]
    bot = subprocess.Popen(
        [*command, "bot", "slack", "--http", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert bot.poll() is None, bot.communicate()[1]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the bot never listened"
            time.sleep(0.1)

        events = f"{base}/slack/events"
        posts = fake.gate("chat.postMessage")
        try:
            asked = _signed_command(events, "do show me what changed")
        except httpx.TimeoutException:
            pytest.fail("no ack while the fake held the bot's posts: it works before it acks")
        # Bolt answers 404 to a request its listener did not ack within Slack's 3 s.
        assert asked.status_code == 200, "not acked while the fake held the bot's posts"
        assert not [call for call in fake.calls if call.method.startswith("chat.")]
        assert _slack_outcomes(workspace, test_env) == {}  # nothing interpreted yet
        fake.blocking(posts.wait_for_waiting(1))  # the work began after the ack
        posts.open()

        status = _signed_command(events, "run status")
        assert status.status_code == 200
        fake.blocking(
            fake.wait_until(
                lambda: any("*status*" in text_of(m) for m in fake.messages),
                timeout=30,
                what="the status result",
            )
        )
        progress = fake.blocking(
            fake.wait_for("chat.postMessage", lambda call: "your request" in call.args["text"])
        )

        def interpreted() -> bool:
            return "⏳" not in text_of(fake.message(slack.CHANNEL_ID, progress.response["ts"]))

        fake.blocking(
            fake.wait_until(
                interpreted,
                timeout=90,  # the model loads first
                what="the reply to the natural language request",
            ),
            timeout=100,
        )
        bot.send_signal(signal.SIGTERM)
        _, err = bot.communicate(timeout=120)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate()
    assert bot.returncode == 0, err
    assert "listening on http://127.0.0.1" in err and "Stopping:" in err
    assert BOT_TOKEN not in err and SECRET not in err

    outcomes = _slack_outcomes(workspace, test_env)
    assert outcomes.get("status") == "ok" and outcomes.get("nl.interpret") == "ok"


def _slack_outcomes(workspace: Path, test_env: dict[str, str]) -> dict[str, str]:
    """What the bot has audited so far, action -> outcome (read as a second engine would)."""
    engine = build_engine(load_settings(workspace, environ=test_env).settings)
    try:
        records = engine.audit.store.query(AuditFilter(source="slack", limit=None))
    finally:
        engine.close()
    return {record.action: record.outcome for record in records}


@pytest.mark.asyncio
async def test_a_refused_bot_token_stops_the_start(fake_slack: FakeSlack) -> None:
    client = web_client(SlackSettings(api_url=fake_slack.api_url), "xoxb-revoked")
    with pytest.raises(ConfigError) as refused:
        await check_bot_token(client)
    message = refused.value.user_message
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in message
    assert "Bot User OAuth Token" in message and "xoxb-revoked" not in message


@pytest.mark.asyncio
async def test_slack_out_of_reach_at_start_names_the_url() -> None:
    """Nothing listens on port 9: after the connection retries, a clear error."""
    client = web_client(SlackSettings(api_url=slack.NO_RESPONSE_URL + "/api/"), "xoxb-1")
    with pytest.raises(ConfigError) as unreachable:
        await check_bot_token(client)
    message = unreachable.value.user_message
    assert "Cannot reach Slack's Web API at http://127.0.0.1:9/" in message
    assert "bots.slack.api_url" in message
