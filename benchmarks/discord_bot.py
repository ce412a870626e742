"""The Discord bot under load over its gateway on loopback: how fast it defers, whether it
loses anything, and what it costs in memory.

Real parts: the engine on a SQLite file, the real discord.py client (its gateway connection,
its HTTP client and rate-limit buckets, its application commands) behind the bot, the real
local model (Gemma 3 270M through llama.cpp) behind ``llm.ask``. Discord itself cannot be
reached from here, so its REST API and gateway are the loopback fake of the tests
(``tests/bots/discord/fake_discord.py``), run in a child process (``python -m
benchmarks.discord_bot --fake``): the person's side neither runs on the bot's loop nor
shares its interpreter lock. The child takes orders as JSON lines on stdin.

- **Defer latency**: 50 ``/logomesh run llm.ask ...`` interactions dispatched at once over
  the gateway, then 50 more while the model works through the first; each figure is the
  fake's time from sending one INTERACTION_CREATE to receiving the bot's deferral (the
  interaction callback), both on the fake's clock.
- **Nothing lost**: 500 ``/logomesh run whoami`` dispatched at once by 50 mapped people:
  the audit records of ``whoami`` from Discord, the interactions whose original response is
  now a result, and the deferrals.
- **Memory**: a real ``logomesh bot discord`` process against the fake: RSS once it is
  connected, once its start's warm-up is over, and after one ``/logomesh do`` was answered.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from benchmarks.memory import MB, process_memory, steady_memory
from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import Workspace, bot_engine, private_workspace, trust
from bots.chat.dispatch import LOOP_SWITCH_INTERVAL_S, ChatBot
from bots.discord.client import build_client
from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine

_ROOT = Path(__file__).resolve().parents[1]
DEFER_P99_TARGET_MS = 200.0
PEOPLE = 50
DEFER_MEASURES = (
    "Time on the loopback Discord (a child process) from sending one INTERACTION_CREATE over "
    "the gateway to receiving the bot's deferral (POST /interactions/{id}/{token}/callback), "
    "50 at once; each command behind them asks the local model (llm.ask, Gemma 3 270M, 8 "
    "tokens). The second wave of 50 is sent once the first model answer is in, while the "
    "model works through the rest; the last row is until all 100 replies are final."
)
LOST_MEASURES = (
    "500 `/logomesh run whoami` dispatched at once by 50 mapped people: the audit records of "
    "whoami with source discord, the interactions whose original response now holds a "
    "result, the deferrals, and the seconds from the first dispatch until all are final."
)
MEMORY_MEASURES = (
    "RSS of a real `logomesh bot discord` process (psutil): once its gateway session is "
    "READY; when its RSS has been steady for 2 s (the start's background warm-up done); after "
    "one `/logomesh do` was answered and the embedding worker embedded the new records."
)


def _user(number: int) -> str:
    return f"40000000000000{number:04d}"


# -- the loopback Discord, in a child process ----------------------------------------------


class FakeProcess:
    """The child running the loopback Discord; :meth:`ask` sends one order, awaits its answer."""

    def __init__(self, child: asyncio.subprocess.Process, hello: dict[str, Any]) -> None:
        self._child = child
        self.api_url: str = hello["api_url"]
        self.gateway_url: str = hello["gateway_url"]
        self.bot_token: str = hello["bot_token"]

    async def ask(self, op: str, **order: Any) -> dict[str, Any]:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write((json.dumps({"op": op, **order}) + "\n").encode())
        await self._child.stdin.drain()
        line = await self._child.stdout.readline()
        if not line:
            raise RuntimeError(f"the loopback Discord exited during {op!r}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the loopback Discord failed {op!r}: {answer['error']}")
        return answer


@asynccontextmanager
async def fake_discord() -> AsyncIterator[FakeProcess]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.discord_bot", "--fake",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_ROOT, limit=2**24,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        hello = json.loads(await child.stdout.readline())
        yield FakeProcess(child, hello)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 30)
        except TimeoutError:
            child.kill()
            await child.wait()


async def _fake_main() -> None:
    """``python -m benchmarks.discord_bot --fake``: the loopback Discord with the mapped
    people; one JSON order per stdin line, one JSON answer per stdout line."""
    from tests.bots.discord.fake_discord import BOT_TOKEN, FakeDiscord

    async with FakeDiscord() as fake:
        for number in range(PEOPLE):
            fake.add_user(_user(number), f"dev{number:03d}")
        hello = {"api_url": fake.api_url, "gateway_url": fake.gateway_url, "bot_token": BOT_TOKEN}
        print(json.dumps(hello), flush=True)
        orders = _Orders(fake)
        while line := await asyncio.to_thread(sys.stdin.readline):
            order = json.loads(line)
            try:
                answer = await orders.obey(order.pop("op"), **order)
            except Exception as exc:  # reported to the parent, which raises it
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)


class _Orders:
    """What the benchmark asks of the loopback Discord."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.sent: dict[str, Any] = {}

    async def obey(self, op: str, **order: Any) -> dict[str, Any]:
        if op == "ready":
            await self.fake.gateway.wait_for_ready(order["count"], timeout=300)
            return {}
        if op == "slash":
            return await self._slash(order["subcommand"], order["options"], order["users"])
        if op == "wait_final":
            return await self._wait_final(order["ids"], order["at_least"], order["timeout"])
        raise ValueError(f"unknown order {op!r}")

    async def _slash(
        self, subcommand: str, options: dict[str, Any], users: list[str]
    ) -> dict[str, Any]:
        """Dispatch one interaction per user at once; the seconds until each was deferred."""
        sent = await asyncio.gather(
            *(self.fake.slash(subcommand, options, user=user) for user in users)
        )
        for interaction in sent:
            self.sent[interaction.id] = interaction
        await self.fake.wait_until(
            lambda: all(i.acknowledged for i in sent), timeout=300, what="every deferral"
        )
        deferred = {
            call.path.split("/")[-3]: call.at
            for call in self.fake.calls_to("POST", "/interactions/{id}/{token}/callback")
        }
        seconds = [deferred[i.id] - i.created_at for i in sent if i.id in deferred]
        return {"ids": [i.id for i in sent], "defer_s": seconds}

    def _final(self, interaction_id: str) -> bool:
        """The original response holds a result: not the thinking message, not progress."""
        original = self.sent[interaction_id].original_message_id
        if original is None:
            return False
        message = self.fake.message(original)
        loading = bool(message.flags & 128)
        return not loading and not message.text.startswith(("⏳", "Running"))

    async def _wait_final(self, ids: list[str], at_least: int, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        started = time.monotonic()
        await self.fake.wait_until(
            lambda: sum(self._final(i) for i in ids) >= at_least,
            timeout=timeout,
            what=f"{at_least} final replies",
        )
        return {"final": sum(self._final(i) for i in ids), "seconds": time.monotonic() - started}


# -- the bot in this process ------------------------------------------------------------


def _flags(fake: FakeProcess) -> dict[str, Any]:
    identities = [
        {"name": f"dev{n:03d}", "roles": ["developer"], "discord": [_user(n)]}
        for n in range(PEOPLE)
    ]
    return {
        "security": {"identities": identities},
        "bots": {
            "enabled": True,
            "discord": {"api_url": fake.api_url, "gateway_url": fake.gateway_url},
            "rate_limit_per_minute": 10_000,
            "rate_limit_burst": 1_000,
        },
    }


async def _load_rows(quick: bool) -> list[Row]:
    async with fake_discord() as fake:
        with private_workspace() as workspace, bot_engine(workspace, _flags(fake)) as engine:
            engine.events.bind(asyncio.get_running_loop())
            bot = ChatBot(engine, platform=Source.DISCORD)
            client = build_client(bot, engine.settings.bots.discord)
            await client.login(fake.bot_token)
            gateway = asyncio.create_task(client.connect(reconnect=True))
            try:
                await fake.ask("ready", count=1)
                await client.wait_until_ready()
                await _warm(engine, fake)
                rows = await _defer_phase(fake)
                rows += await _lost_phase(fake, engine, 50 if quick else 500)
            finally:
                await bot.shutdown(grace_s=5)
                await client.close()
                gateway.cancel()
                engine.events.unbind()
    return rows


async def _warm(engine: Engine, fake: FakeProcess) -> None:
    """The model loads once before the timed run, as a bot that has served one ask has;
    one whoami warms the command tree and the webhook paths."""
    warm = CommandRequest(
        "llm.ask", Actor(Source.CLI, engine.settings.owner), {"prompt": "Say hi.", "max_tokens": 2}
    )
    if not (await engine.execute(warm)).ok:
        raise RuntimeError("the local model did not answer llm.ask")
    whoami = {"command": "whoami"}
    sent = await fake.ask("slash", subcommand="run", options=whoami, users=[_user(0)])
    await fake.ask("wait_final", ids=sent["ids"], at_least=1, timeout=60)


async def _defer_phase(fake: FakeProcess) -> list[Row]:
    """Two waves of 50 model-backed commands: the first at once, the second while the
    model is working through the first."""
    ask = {"command": "llm.ask", "arguments": 'prompt="Name one git command." max_tokens=8'}
    users = [_user(n) for n in range(PEOPLE)]
    started = time.perf_counter()
    first = await fake.ask("slash", subcommand="run", options=ask, users=users)
    await fake.ask("wait_final", ids=first["ids"], at_least=1, timeout=300)  # model at work
    second = await fake.ask("slash", subcommand="run", options=ask, users=users)
    ids = first["ids"] + second["ids"]
    await fake.ask("wait_final", ids=ids, at_least=len(ids), timeout=1800)
    all_final = time.perf_counter() - started
    rows = _defer_rows("first 50 at once", first["defer_s"])
    rows += _defer_rows("next 50, model busy", second["defer_s"])
    metric = "Discord: 100 model answers, until all final"
    return [*rows, Row(metric, f"{all_final:.1f} s", measures=DEFER_MEASURES)]


async def _lost_phase(fake: FakeProcess, engine: Engine, count: int) -> list[Row]:
    def whoami_records() -> int:
        where = AuditFilter(source="discord", action="whoami", limit=100_000)
        return len(engine.audit.store.query(where))

    before = await asyncio.to_thread(whoami_records)
    users = [_user(n % PEOPLE) for n in range(count)]
    started = time.perf_counter()
    sent = await fake.ask("slash", subcommand="run", options={"command": "whoami"}, users=users)
    final = await fake.ask("wait_final", ids=sent["ids"], at_least=count, timeout=600)
    took = time.perf_counter() - started
    records = await asyncio.to_thread(whoami_records) - before
    deferred = len(sent["defer_s"])
    return [
        _count_row(f"Discord {count} concurrent: audit records", records, count),
        _count_row(f"Discord {count} concurrent: final replies", final["final"], count),
        _count_row(f"Discord {count} concurrent: deferrals", deferred, count),
        Row(f"Discord {count} concurrent: until all final", f"{took:.1f} s",
            measures=LOST_MEASURES),
    ]  # fmt: skip


def _count_row(metric: str, value: int, target: int) -> Row:
    return Row(metric, str(value), str(target), value == target, measures=LOST_MEASURES)


def _defer_rows(wave: str, seconds: list[float]) -> list[Row]:
    p99 = percentile(seconds, 0.99) * 1000
    return [
        Row(
            f"Discord defer p50, {wave}",
            f"{percentile(seconds, 0.50) * 1000:.1f} ms",
            measures=DEFER_MEASURES,
        ),
        Row(
            f"Discord defer p99, {wave}",
            f"{p99:.1f} ms",
            f"< {DEFER_P99_TARGET_MS:.0f} ms",
            p99 < DEFER_P99_TARGET_MS,
            measures=DEFER_MEASURES,
        ),
    ]


# -- a real `logomesh bot discord` process -------------------------------------------------


def _write_config(workspace: Workspace, fake: FakeProcess) -> None:
    """The settings for the bot process, in the user's config file (identities are never
    taken from a workspace's own logomesh.toml)."""
    lines = ["[bots]", "enabled = true", "[bots.discord]"]
    lines += [f'api_url = "{fake.api_url}"', f'gateway_url = "{fake.gateway_url}"']
    lines += ["[[security.identities]]", 'name = "dev000"', 'roles = ["developer"]']
    lines.append(f'discord = ["{_user(0)}"]')
    config = Path(workspace.environ["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def _memory_rows() -> list[Row]:
    async with fake_discord() as fake:
        with private_workspace() as workspace:
            _write_config(workspace, fake)
            trust(workspace)
            environ = {
                **workspace.process_environ(),
                "DISCORD_BOT_TOKEN": fake.bot_token,
                "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")]),
            }
            argv = [sys.executable, "-m", "logomesh", "--workspace", str(workspace.root)]
            process = await asyncio.to_thread(
                subprocess.Popen, [*argv, "bot", "discord"], env=environ,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await fake.ask("ready", count=1)
                connected = process_memory(process.pid)
                idle = await asyncio.to_thread(steady_memory, process.pid)
                sent = await fake.ask(
                    "slash", subcommand="do", options={"request": "show the git status"},
                    users=[_user(0)],
                )  # fmt: skip
                await fake.ask("wait_final", ids=sent["ids"], at_least=1, timeout=300)
                await asyncio.sleep(3)  # the embedding worker picks up the new records
                warm = process_memory(process.pid)
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(process.wait, 120)
    return [
        Row("Discord bot RSS, gateway READY", f"{connected.rss / MB:.0f} MB",
            measures=MEMORY_MEASURES),
        Row("Discord bot RSS, idle (warm-up done)", f"{idle.rss / MB:.0f} MB",
            measures=MEMORY_MEASURES),
        Row("Discord bot RSS, one answer, embedding worker warm", f"{warm.rss / MB:.0f} MB",
            measures=MEMORY_MEASURES),
    ]  # fmt: skip


def run(quick: bool = False) -> list[Row]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(LOOP_SWITCH_INTERVAL_S)  # as `logomesh bot discord` runs
    try:
        rows = asyncio.run(_load_rows(quick))
    finally:
        sys.setswitchinterval(switch_interval)
    return rows + asyncio.run(_memory_rows())


if __name__ == "__main__" and sys.argv[1:2] == ["--fake"]:
    asyncio.run(_fake_main())
