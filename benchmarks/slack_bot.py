"""The Slack bot: ack latency under load, nothing lost, and the memory of a bot process.

Slack cannot be reached from here, so the bot talks to the loopback Slack the tests use
(``tests/bots/slack/fake_slack.py``: the real slack_sdk client at a loopback base URL), and
is reached the way Slack reaches it in HTTP mode: signed requests over loopback HTTP to the
bot's own server (``bots.slack.http``), in front of the real Bolt app and a real engine on a
SQLite file.

- Ack latency: 50 signed ``/logomesh do ...`` requests sent at once, each one a
  natural-language request that the local embedding model (loaded first) interprets (and
  then runs: ``git.status``); the
  figure is each request's HTTP round trip, which ends with Bolt's ack, while the model
  work of the others runs.
- Nothing lost: 500 ``/logomesh run status`` at once; every one must leave one audit record
  and one final reply (the progress reply replaced by the result).
- Memory: a real ``logomesh bot slack --http`` process, its RSS once it listens, and again
  after it answered a natural-language request (the embedding model loaded and warm).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from benchmarks.memory import MB, process_memory
from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import Workspace, private_workspace, trust

if TYPE_CHECKING:
    from bots.chat.dispatch import ChatBot
    from bots.slack.runner import RunningSlack

ACK_TARGET_P99_MS = 200.0
SECRET = "bench-signing-secret"
USER = "U0BENCH"
ACK_MEASURES = (
    "Seconds from sending one signed slash command over loopback HTTP to the bot's answer "
    "(Bolt's ack, before any work), with all of them sent at once; each is a `do` request "
    "the warm local embedding model interprets in the background."
)
LOST_MEASURES = (
    "Concurrent signed `/logomesh run status` requests; counted after the bot is idle: audit "
    "records with source slack, and final replies (progress reply replaced by the result)."
)
MEMORY_MEASURES = (
    "RSS of a real `logomesh bot slack --http` process (psutil): once /healthz answers, and "
    "after its first natural-language request was answered (embedding model loaded)."
)


def run(quick: bool) -> list[Row]:
    acks, lost = (20, 100) if quick else (50, 500)
    with private_workspace() as workspace:
        latencies = asyncio.run(_ack_latencies(workspace, acks))
    with private_workspace() as workspace:
        records, replies = asyncio.run(_nothing_lost(workspace, lost))
    with private_workspace() as workspace:
        idle, warm = _process_memory(workspace)
    p50, p99 = (percentile(latencies, f) * 1000 for f in (0.50, 0.99))
    metric = f"Slack ack latency, {acks} concurrent slash commands (HTTP, loopback, model busy)"
    return [
        Row(f"{metric}, p50", f"{p50:.1f} ms", measures=ACK_MEASURES),
        Row(
            f"{metric}, p99",
            f"{p99:.1f} ms",
            f"< {ACK_TARGET_P99_MS:.0f} ms",
            p99 < ACK_TARGET_P99_MS,
            measures=ACK_MEASURES,
        ),
        Row(
            f"Slack: {lost} concurrent commands, audit records / final replies",
            f"{records} / {replies}",
            f"{lost} / {lost}",
            records == lost and replies == lost,
            measures=LOST_MEASURES,
        ),
        Row("Slack bot RSS, listening", f"{idle / MB:.0f} MB", measures=MEMORY_MEASURES),
        Row("Slack bot RSS, embedding model warm", f"{warm / MB:.0f} MB", measures=MEMORY_MEASURES),
    ]


def _flags(api_url: str) -> dict[str, Any]:
    return {
        "security": {"identities": [{"name": "bench", "roles": ["developer"], "slack": [USER]}]},
        "bots": {
            "enabled": True,
            "rate_limit_burst": 10_000,
            "rate_limit_per_minute": 10_000,
            "slack": {"api_url": api_url},
        },
    }


async def _serving(workspace: Workspace, api_url: str) -> tuple[ChatBot, RunningSlack]:
    """The bot (engine, neutral bot, HTTP server) on ``workspace``, started and listening."""
    from bots.chat.dispatch import ChatBot
    from bots.slack.runner import Listen, connect
    from bots.slack.tokens import SlackMode, SlackTokens
    from logomesh.commands.values import Source
    from logomesh.composition import build_engine
    from logomesh.config import load_settings
    from tests.bots.slack.fake_slack import APP_TOKEN, BOT_TOKEN

    trust(workspace)
    loaded = load_settings(workspace.root, _flags(api_url), environ=workspace.environ)
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    engine.ensure_schema()
    bot = ChatBot(engine, platform=Source.SLACK)
    await bot.start()  # the embedding worker, the plugins, the model warming
    tokens = SlackTokens(BOT_TOKEN, SECRET, APP_TOKEN)
    running = await connect(bot, loaded.settings, tokens, Listen(SlackMode.HTTP, "127.0.0.1", 0))
    return bot, running


def _port(running: RunningSlack) -> int:
    assert running.server is not None
    return running.server.port


async def _send_all(port: int, texts: list[str]) -> list[float]:
    from tests.bots.slack import slack_payloads as slack

    url = f"http://127.0.0.1:{port}/slack/events"
    bodies = [slack.form_body(slack.slash_command(text, user_id=USER)) for text in texts]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(body: str) -> float:
            headers = slack.signed_headers(SECRET, body)
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"the bot answered {response.status}")
            return time.perf_counter() - started

        return list(await asyncio.gather(*(send(body) for body in bodies)))


async def _idle(bot: ChatBot, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while bot.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110 - a plain count
        await asyncio.sleep(0.05)


async def _ack_latencies(workspace: Workspace, count: int) -> list[float]:
    from tests.bots.slack.fake_slack import FakeSlack

    async with FakeSlack() as fake:
        bot, running = await _serving(workspace, fake.api_url)
        try:
            await asyncio.to_thread(bot.engine.interpreter.warm_up)
            # A read the interpreter is sure of runs at once; a less certain reading would
            # wait for someone's approval, which is not what this measures.
            texts = [f"do show me the git status please ({n})" for n in range(count)]
            latencies = await _send_all(_port(running), texts)
            await _idle(bot, 300)
        finally:
            await running.stop()
            await bot.shutdown()
    return latencies


async def _nothing_lost(workspace: Workspace, count: int) -> tuple[int, int]:
    from logomesh.audit.query import AuditFilter
    from tests.bots.slack.fake_slack import FakeSlack
    from tests.bots.slack.harness import text_of

    async with FakeSlack() as fake:
        bot, running = await _serving(workspace, fake.api_url)
        try:
            await _send_all(_port(running), ["run status"] * count)
            await _idle(bot, 600)
            where = AuditFilter(source="slack", action="status", limit=None)
            records = len(bot.engine.audit.store.query(where))
            replies = sum(
                1 for m in fake.messages if m.thread_ts is None and "*status*" in text_of(m)
            )
        finally:
            await running.stop()
            await bot.shutdown()
    return records, replies


def _process_memory(workspace: Workspace) -> tuple[int, int]:
    import httpx

    from tests.bots.slack import slack_payloads as slack
    from tests.bots.slack.fake_slack import BOT_TOKEN, FakeSlack

    with FakeSlack.running() as fake:
        config = Path(workspace.environ["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f'[bots]\nenabled = true\n[bots.slack]\napi_url = "{fake.api_url}"\n'
            f'[[security.identities]]\nname = "bench"\nroles = ["developer"]\nslack = ["{USER}"]\n',
            encoding="utf-8",
        )
        trust(workspace)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        root = Path(__file__).resolve().parents[1]
        env = {
            **workspace.process_environ(),
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
        }
        command = [sys.executable, "-m", "logomesh", "--workspace", str(workspace.root), "bot"]
        bot = subprocess.Popen(
            [*command, "slack", "--http", f"127.0.0.1:{port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_listening(bot, f"{base}/healthz")
            idle = process_memory(bot.pid).rss
            body = slack.form_body(slack.slash_command("do show me the git status", user_id=USER))
            httpx.post(
                f"{base}/slack/events", content=body, headers=slack.signed_headers(SECRET, body)
            )
            deadline = time.monotonic() + 300
            while not any("git.status" in m.text for m in fake.messages if m.versions[1:]):
                if time.monotonic() > deadline:
                    raise RuntimeError("the bot never answered the natural-language request")
                time.sleep(0.1)
            warm = process_memory(bot.pid).rss
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.communicate(timeout=120)
    return idle, warm


def _wait_until_listening(bot: subprocess.Popen[bytes], health_url: str) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            raise RuntimeError(f"the bot exited: {bot.communicate()[1].decode()[-500:]}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the bot never listened")
