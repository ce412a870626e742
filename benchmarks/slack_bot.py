"""The Slack bot under load, in HTTP mode on loopback: how fast it acks, whether it loses
anything, and what it costs in memory.

Real parts: the engine on a SQLite file, the real Bolt app behind the bot's aiohttp server,
the real local model (Gemma 3 270M through llama.cpp) behind ``llm.ask``. Slack itself cannot
be reached from here, so its Web API is the loopback fake of the tests
(``tests/bots/slack/fake_slack.py``) on a thread of its own, and the signed requests Slack
would send come from a child process, so the sender neither runs on the bot's loop nor
shares its interpreter lock.

- **Ack latency**: 50 signed ``/logomesh run llm.ask ...`` requests at once, then 50 more
  while the model works through the first; each figure is one request's HTTP round trip
  (Bolt answers when the listener acks). The time until the last of the 100 final replies
  is reported too.
- **Nothing lost**: 500 signed ``/logomesh run whoami`` at once; counted are the audit records
  of ``whoami`` from Slack, the messages whose final version is a result, and the acks.
- **Memory**: a real ``logomesh bot slack --http`` process against the fake: RSS once it
  listens, once its start's background warm-up is over (idle), and after one ``do`` was
  answered and the embedding worker embedded its records.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.memory import MB, process_memory, steady_memory
from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import Workspace, bot_engine, private_workspace, trust
from bots.chat.dispatch import LOOP_SWITCH_INTERVAL_S, ChatBot
from bots.slack.runner import Listen, connect
from bots.slack.tokens import SlackMode, SlackTokens
from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack

_ROOT = Path(__file__).resolve().parents[1]
ACK_P99_TARGET_MS = 200.0
SECRET = "0123456789abcdef0123456789abcdef"
PEOPLE = 50
ACK_MEASURES = (
    "HTTP round trip of one signed slash command to the bot's aiohttp server (Bolt answers "
    "when the listener acks), sent from another process, 50 at once; each command behind "
    "them asks the local model (llm.ask, Gemma 3 270M, 8 tokens). The second wave of 50 is "
    "sent once the first model answer is in, while the model works through the rest; the "
    "last row is from the first send to the last of the 100 final replies."
)
LOST_MEASURES = (
    "500 signed `/logomesh run whoami` sent at once by 50 mapped people: the audit records "
    "of whoami with source slack, the replies whose final version is a result (the "
    "loopback Slack keeps each message's versions), the HTTP 200 acks, and the seconds "
    "from the first send until the bot has nothing in flight."
)
MEMORY_MEASURES = (
    "RSS of a real `logomesh bot slack --http` process (psutil): when it first answers "
    "/healthz; when its RSS has been steady for 2 s (the start's background warm-up of the "
    "interpreter's sentence-embedding model done); after one `/logomesh do` was answered "
    "and the embedding worker embedded the new records."
)


def _user(number: int) -> str:
    return f"U0BENCH{number:03d}"


def _flags(api_url: str) -> dict[str, Any]:
    identities = [
        {"name": f"dev{n:03d}", "roles": ["developer"], "slack": [_user(n)]} for n in range(PEOPLE)
    ]
    return {
        "security": {"identities": identities},
        "bots": {
            "enabled": True,
            "slack": {"api_url": api_url},
            "rate_limit_per_minute": 10_000,
            "rate_limit_burst": 1_000,
        },
    }


def _write_config(workspace: Workspace, api_url: str) -> None:
    """The same settings for the bot process, in the user's config file: identities are
    never taken from a workspace's own logomesh.toml."""
    lines = ["[bots]", "enabled = true", "rate_limit_per_minute = 10000"]
    lines += ["rate_limit_burst = 1000", "[bots.slack]", f'api_url = "{api_url}"']
    for n in range(PEOPLE):
        lines += ["[[security.identities]]", f'name = "dev{n:03d}"', 'roles = ["developer"]']
        lines.append(f'slack = ["{_user(n)}"]')
    config = Path(workspace.environ["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def _send_from_another_process(
    url: str, texts: list[tuple[str, str]]
) -> list[tuple[int, float]]:
    """Send the slash commands from a child process, as Slack's servers would: a sender in
    this process would share its interpreter lock with the bot it measures."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.slack_bot", "--send", url,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_ROOT,
    )  # fmt: skip
    out, _ = await child.communicate(json.dumps(texts).encode())
    if child.returncode != 0:
        raise RuntimeError(f"the sender process failed with exit status {child.returncode}")
    return [(int(status), float(seconds)) for status, seconds in json.loads(out)]


async def _send_all(url: str, texts: list[tuple[str, str]]) -> list[tuple[int, float]]:
    """POST each (user, text) slash command at once; (status, seconds) for each."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(user: str, text: str) -> tuple[int, float]:
            body = slack.form_body(slack.slash_command(text, user_id=user))
            headers = slack.signed_headers(SECRET, body)
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
            return response.status, time.perf_counter() - started

        return await asyncio.gather(*(one(user, text) for user, text in texts))


def _final_replies(fake: FakeSlack) -> int:
    """The bot's replies that now hold a result: the progress reply (``Running ...`` when
    posted, ``⏳ ...`` while edited) replaced."""
    return sum(
        1 for m in fake.messages if m.thread_ts is None and not m.text.startswith(("⏳", "Running"))
    )


async def _wait(condition: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot's replies did not all arrive")
        await asyncio.sleep(0.05)


async def _load_rows(engine: Engine, fake: FakeSlack, quick: bool) -> list[Row]:
    engine.events.bind(asyncio.get_running_loop())
    bot = ChatBot(engine, platform=Source.SLACK)
    tokens = SlackTokens(BOT_TOKEN, SECRET, APP_TOKEN)
    listen = Listen(SlackMode.HTTP, "127.0.0.1", 0)
    running = await connect(bot, engine.settings, tokens, listen)
    assert running.server is not None
    url = f"http://127.0.0.1:{running.server.port}/slack/events"
    try:
        # The model loads once before the timed run, as a bot that has served one ask has.
        warm = CommandRequest(
            "llm.ask",
            Actor(Source.CLI, engine.settings.owner),
            {"prompt": "Say hi.", "max_tokens": 2},
        )
        if not (await engine.execute(warm)).ok:
            raise RuntimeError("the local model did not answer llm.ask")
        # Bolt asks Slack's auth.test on its first request: a one-off, not what is measured.
        await _send_from_another_process(url, [(_user(0), "run whoami")])
        await _wait(lambda: _final_replies(fake) >= 1 and bot.in_flight == 0, timeout=60)
        rows = await _ack_phase(url, fake)
        rows += await _lost_phase(url, fake, bot, 50 if quick else 500)
    finally:
        await running.stop()
        await bot.shutdown(grace_s=5)
        engine.events.unbind()
    return rows


async def _ack_phase(url: str, fake: FakeSlack) -> list[Row]:
    """Two waves of 50 model-backed commands: the first arrives at once, the second while
    the model is working through the first."""
    asks = [
        (_user(n), 'run llm.ask prompt="Name one git command." max_tokens=8') for n in range(PEOPLE)
    ]
    before = _final_replies(fake)
    started = time.perf_counter()
    first = await _send_from_another_process(url, asks)
    await _wait(lambda: _final_replies(fake) > before, timeout=300)  # the model is at work
    second = await _send_from_another_process(url, asks)
    await _wait(lambda: _final_replies(fake) >= before + 2 * PEOPLE, timeout=1800)
    all_replied = time.perf_counter() - started
    rows = _ack_rows("first 50 at once", [seconds for _, seconds in first])
    rows += _ack_rows("next 50, model busy", [seconds for _, seconds in second])
    metric = "Slack: 100 model answers, until all final"
    return [*rows, Row(metric, f"{all_replied:.1f} s", measures=ACK_MEASURES)]


async def _lost_phase(url: str, fake: FakeSlack, bot: ChatBot, count: int) -> list[Row]:
    def whoami_records() -> int:
        where = AuditFilter(source="slack", action="whoami", limit=100_000)
        return len(bot.engine.audit.store.query(where))

    replies, records = _final_replies(fake), await asyncio.to_thread(whoami_records)
    whoami = [(_user(n % PEOPLE), "run whoami") for n in range(count)]
    started = time.perf_counter()
    answered = await _send_from_another_process(url, whoami)
    await _wait(lambda: _final_replies(fake) - replies >= count and bot.in_flight == 0, 600)
    took = time.perf_counter() - started
    records = await asyncio.to_thread(whoami_records) - records
    rows = _lost_rows(count, records, _final_replies(fake) - replies, answered)
    metric = f"Slack {count} concurrent: until all final"
    return [*rows, Row(metric, f"{took:.1f} s", measures=LOST_MEASURES)]


def _ack_rows(wave: str, acks: list[float]) -> list[Row]:
    p99 = percentile(acks, 0.99) * 1000
    return [
        Row(
            f"Slack ack p50, {wave}",
            f"{percentile(acks, 0.50) * 1000:.1f} ms",
            measures=ACK_MEASURES,
        ),
        Row(
            f"Slack ack p99, {wave}",
            f"{p99:.1f} ms",
            f"< {ACK_P99_TARGET_MS:.0f} ms",
            p99 < ACK_P99_TARGET_MS,
            measures=ACK_MEASURES,
        ),
    ]


def _lost_rows(
    count: int, records: int, replies: int, answered: list[tuple[int, float]]
) -> list[Row]:
    acked = sum(1 for status, _ in answered if status == 200)
    return [
        Row(
            f"Slack {count} concurrent: audit records",
            str(records),
            str(count),
            records == count,
            measures=LOST_MEASURES,
        ),
        Row(
            f"Slack {count} concurrent: final replies",
            str(replies),
            str(count),
            replies == count,
            measures=LOST_MEASURES,
        ),
        Row(
            f"Slack {count} concurrent: acks (HTTP 200)",
            str(acked),
            str(count),
            acked == count,
            measures=LOST_MEASURES,
        ),
    ]


def _memory_rows(workspace: Workspace, fake: FakeSlack) -> list[Row]:
    _write_config(workspace, fake.api_url)
    trust(workspace)
    environ = {
        **workspace.process_environ(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    port = _free_port()
    argv = [sys.executable, "-m", "logomesh", "--workspace", str(workspace.root), "bot"]
    argv += ["slack", "--http", f"127.0.0.1:{port}"]
    process = subprocess.Popen(argv, env=environ, stdout=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        listening = process_memory(process.pid)
        idle = steady_memory(process.pid)
        body = slack.form_body(slack.slash_command("do show the git status", user_id=_user(0)))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events",
            data=body.encode(),
            headers=slack.signed_headers(SECRET, body),
        )
        urllib.request.urlopen(request, timeout=10).read()
        fake.blocking(_wait_for_result(fake), timeout=300)
        time.sleep(3)  # the embedding worker picks up the new records
        warm = process_memory(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    return [
        Row(
            "Slack bot RSS, as it starts listening",
            f"{listening.rss / MB:.0f} MB",
            measures=MEMORY_MEASURES,
        ),
        Row(
            "Slack bot RSS, idle (warm-up done)",
            f"{idle.rss / MB:.0f} MB",
            measures=MEMORY_MEASURES,
        ),
        Row(
            "Slack bot RSS, one answer, embedding worker warm",
            f"{warm.rss / MB:.0f} MB",
            measures=MEMORY_MEASURES,
        ),
    ]


async def _wait_for_result(fake: FakeSlack) -> None:
    await _wait(lambda: _final_replies(fake) >= 1, timeout=290)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"logomesh bot slack exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("logomesh bot slack did not listen within 120 s")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _send_main(url: str) -> None:
    """``python -m benchmarks.slack_bot --send URL``: (user, text) pairs on stdin as JSON;
    prints each request's (status, seconds)."""
    texts = [(str(user), str(text)) for user, text in json.loads(sys.stdin.read())]
    print(json.dumps(asyncio.run(_send_all(url, texts))))


def run(quick: bool = False) -> list[Row]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows: list[Row] = []
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(LOOP_SWITCH_INTERVAL_S)  # as `logomesh bot slack` runs
    with (
        FakeSlack.running() as fake,
        private_workspace() as workspace,
        bot_engine(workspace, _flags(fake.api_url)) as engine,
    ):
        try:
            rows += asyncio.run(_load_rows(engine, fake, quick))
        finally:
            sys.setswitchinterval(switch_interval)
    with FakeSlack.running() as fake, private_workspace() as workspace:
        rows += _memory_rows(workspace, fake)
    return rows


if __name__ == "__main__" and sys.argv[1:2] == ["--send"]:
    _send_main(sys.argv[2])
