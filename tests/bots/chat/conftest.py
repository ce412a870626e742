"""The neutral bot's fixtures: real engines on real SQLite files, and a recording Conversation.

The Conversation here is our own port (``bots.chat.conversation``), not a fake of a chat
service: it keeps what the bot posted, edited and whispered, so a test reads the thread as
a person would see it. The engines are real, built like ``logomesh bot slack`` builds one,
with a few test commands beside the built-in ones (one that reports progress, one that
fails, one with long output, a danger command that proves whether it ran) and a pipeline.
One engine serves a whole module (building one and migrating its database costs time);
each test makes its own :class:`ChatBot`, so rate limits and cards do not leak between tests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from bots.chat.message import Arrival, ButtonClick, ChatMessage, ChatPlace, ChatUser
from bots.chat.render import Reply
from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import CommandRegistry, command
from logomesh.commands.values import RiskLevel, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.errors import CommandError
from logomesh.nl.embedder import Embedder
from tests.approvals.conftest import guarded
from tests.conftest import trust_now

WAIT_S = 30.0  # the longest a test waits for the bot to say something
ALICE = ChatUser(Source.SLACK, "UALICE", "Alice")  # admin
BOB = ChatUser(Source.SLACK, "UBOB", "Bob")  # developer: may decide tickets
VERA = ChatUser(Source.SLACK, "UVERA", "Vera")  # viewer: may read, not decide
STRANGER = ChatUser(Source.SLACK, "USTRANGER", "Sam Stranger")  # mapped to nobody
PLACE = ChatPlace("T1", "C1", "1700000000.000100")

IDENTITIES = [
    {"name": "alice", "roles": ["admin"], "slack": ["UALICE"], "cli": ["alice-os"]},
    {"name": "bob", "roles": ["developer"], "slack": ["UBOB"], "cli": ["bob-os"]},
    {"name": "vera", "roles": ["viewer"], "slack": ["UVERA"]},
]

PIPELINE = """\
version: 1
name: twostep
description: Two steps, so a chat thread can show a run's steps as they go.
inputs:
  count: {type: integer, default: 2}
steps:
  - id: first
    uses: test.progress
    with: {count: "${{ inputs.count }}"}
  - id: second
    uses: status
"""


GUARDED_PIPELINE = """\
version: 1
name: guardedrun
description: A danger step, whose own ticket the run's thread shows.
steps:
  - id: guard
    uses: test.guarded
    with: {note: from-pipeline}
"""


class ProgressArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 3
    pause_s: float = 0.0


@command("test.progress", summary="Report progress", permission="engine.read", risk=RiskLevel.READ)
async def progress_command(ctx: CommandContext, args: ProgressArgs) -> CommandOutput:
    for number in range(1, args.count + 1):
        await ctx.progress(f"step {number} of {args.count}", number / args.count)
        await asyncio.sleep(args.pause_s)
    return CommandOutput(data={"steps": args.count}, message=f"{args.count} steps done.")


@command("test.fail", summary="Always fails", permission="engine.read", risk=RiskLevel.READ)
async def failing_command(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    raise CommandError("The test command failed on purpose; fix nothing, it always does.")


class LongArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: int = 400


@command("test.long", summary="Prints a lot", permission="engine.read", risk=RiskLevel.READ)
async def long_command(ctx: CommandContext, args: LongArgs) -> CommandOutput:
    text = "\n".join(f"line {n:04d} of the long output" for n in range(args.lines))
    return CommandOutput(data={"stdout": text}, message=f"{args.lines} lines.")


# test.guarded: the approvals tests' danger command, which writes down that it ran.
TEST_COMMANDS = (progress_command, failing_command, long_command, guarded)


@pytest.fixture(scope="session")
def chat_embedder() -> Iterator[Embedder]:
    """The real sentence-embedding model, loaded once (only natural-language tests use it)."""
    embedder = Embedder()
    yield embedder
    embedder.close()


EngineFactory = Callable[..., Engine]


@pytest.fixture(scope="module")
def chat_engine_factory(
    tmp_path_factory: pytest.TempPathFactory, chat_embedder: Embedder
) -> Iterator[EngineFactory]:
    """Engines on their own workspace and SQLite file, with the users above mapped."""
    made: list[Engine] = []

    def _make(
        bots: dict[str, Any] | None = None, mode: str | None = None, **security: Any
    ) -> Engine:
        root = tmp_path_factory.mktemp("chat")
        workspace = root / "ws"
        (workspace / "pipelines").mkdir(parents=True)
        (workspace / "pipelines" / "twostep.yaml").write_text(PIPELINE, encoding="utf-8")
        (workspace / "pipelines" / "guardedrun.yaml").write_text(GUARDED_PIPELINE, "utf-8")
        environ = {"HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "config")}
        trust_now(workspace, environ)
        flags: dict[str, Any] = {"security": {"identities": IDENTITIES, **security}}
        flags["bots"] = {"progress_interval_s": 0.0, **(bots or {})}
        if mode is not None:
            flags["mode"] = mode
            # Team mode wants a database every process shares, named outright.
            flags["database"] = {"url": f"sqlite:///{root / 'team.db'}"}
        loaded = load_settings(workspace, flags, environ=environ)
        registry = CommandRegistry()
        for spec in TEST_COMMANDS:
            registry.register(spec)
        engine = build_engine(
            loaded.settings, provenance=loaded.provenance, registry=registry, embedder=chat_embedder
        )
        made.append(engine)
        return engine

    yield _make
    for engine in made:
        engine.close()


@pytest.fixture(scope="module")
def chat_engine(chat_engine_factory: EngineFactory) -> Engine:
    """Local mode with the identities mapped; progress edits without delay for tests."""
    return chat_engine_factory()


@dataclass
class RecordingConversation:
    """The Conversation port, recording: what the thread shows, and what was whispered."""

    posted: list[tuple[str, Reply]] = field(default_factory=list)
    updates: list[tuple[str, Reply]] = field(default_factory=list)
    whispers: list[Reply] = field(default_factory=list)
    current: dict[str, Reply] = field(default_factory=dict)
    _refs: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(self, reply: Reply) -> str:
        ref = f"ts-{next(self._refs)}"
        self.posted.append((ref, reply))
        self.current[ref] = reply
        self._changed.set()
        return ref

    async def update(self, ref: str, reply: Reply) -> None:
        assert ref in self.current, f"update of a message never posted: {ref}"
        self.updates.append((ref, reply))
        self.current[ref] = reply
        self._changed.set()

    async def whisper(self, reply: Reply) -> None:
        self.whispers.append(reply)
        self._changed.set()

    async def wait_for(self, check: Callable[[], Any]) -> Any:
        """Until ``check()`` is truthy (re-checked whenever the bot says something)."""
        async with asyncio.timeout(WAIT_S):
            while not (found := check()):
                self._changed.clear()
                await self._changed.wait()
        return found

    def cards(self) -> list[str]:
        """Refs of the messages that show approval buttons now."""
        return [ref for ref, reply in self.current.items() if _has_buttons(reply)]


def _has_buttons(reply: Reply) -> bool:
    from bots.chat.render import Buttons

    return any(isinstance(block, Buttons) for block in reply.blocks)


def text_of(reply: Reply) -> str:
    """Everything a reply says, as one string (for assertions)."""
    from bots.chat.fitting import block_text

    return "\n".join(block_text(block) for block in reply.blocks)


def blocks_of(reply: Reply, kind: type[Any]) -> list[Any]:
    return [block for block in reply.blocks if isinstance(block, kind)]


def slash(text: str, who: ChatUser = ALICE) -> ChatMessage:
    return ChatMessage(who, PLACE, text, Arrival.SLASH)


def mention(text: str, who: ChatUser = ALICE) -> ChatMessage:
    return ChatMessage(who, PLACE, f"<@UBOT> {text}", Arrival.MENTION)


def click(action: str, ticket_id: str, who: ChatUser, ref: str | None = None) -> ButtonClick:
    return ButtonClick(who, PLACE, action, ticket_id, message_ref=ref)
