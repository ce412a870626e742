"""The registry's commands: list models, ask one, check one, and sum usage (``declare``
adds one).

They are ordinary registered commands, so the CLI, the editor and the chat bots all reach
models through the one door, with authorisation and an audit record for the command itself
(each model call it causes is recorded too, under the same correlation id).
"""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from logomesh.audit import AuditFilter, parse_when
from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import UnusableAnswerError
from logomesh.events import CommandOutputDelta
from logomesh.llm import Caller, GenerationParams, Message
from logomesh.llm.catalog import BUILTIN_MODELS, STRONGER_MODEL_HINT
from logomesh.llm.recording import CALL_ACTION, EMBED_ACTION
from logomesh.llm.settings import Capability, Purpose
from logomesh.llm.status import describe_models
from logomesh.llm.usage import summarise
from logomesh.plural import plural


def caller_of(ctx: CommandContext) -> Caller:
    request = ctx.request
    return Caller(ctx.identity.name, request.actor.source, request.correlation_id)


@command(
    "llm.list",
    summary="List the language and embedding models LogoMesh knows, with their state",
    permission="llm.read",
    risk=RiskLevel.READ,
    examples=(
        "which models are available",
        "list the llms",
        "show me the language models",
        "what models can I use",
    ),
)
async def llm_list(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    rows = describe_models(ctx.engine.llm)
    names = ", ".join(f"{row['name']} ({row['state']})" for row in rows)
    lines = [f"{plural(len(rows), 'model')}: {names}."]
    lines += [f"{row['name']} is good for {row['good_for']}." for row in rows if row["good_for"]]
    chat = ctx.engine.llm.catalog.default_for(Purpose.CHAT)
    if chat in BUILTIN_MODELS:  # nobody has declared a model to answer yet
        lines.append(STRONGER_MODEL_HINT)
    return CommandOutput(data=rows, message="\n".join(lines))


class AskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    model: str | None = None
    system: str | None = None
    max_tokens: int | None = Field(default=None, gt=0, le=32_768)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # A blank prompt made the local model ramble for max_tokens; nothing was asked.
        if not value.strip():
            raise PydanticCustomError(
                "blank_prompt",
                "the prompt is only whitespace; give the question as text",
            )
        return value


@command(
    "llm.ask",
    summary="Ask a language model a question (the local model unless one is named)",
    permission="llm.ask",
    risk=RiskLevel.READ,
    examples=(
        "ask the model what a rebase does",
        "ask the llm to explain this error",
        "question for the language model",
        "ask gemma what a linter is",
        "ask the assistant why tests can be flaky",
        "ask the ai about python decorators",
        "ask the local model to write a commit message",
    ),
    timeout_s=600,
)
async def llm_ask(ctx: CommandContext, args: AskArgs) -> CommandOutput:
    messages = [Message("system", args.system)] if args.system else []
    messages.append(Message("user", args.prompt))
    params = GenerationParams(
        temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
    )
    stream = ctx.engine.llm.stream_chat(messages, caller_of(ctx), model=args.model, params=params)
    correlation = ctx.request.correlation_id
    async for delta in stream:
        await ctx.engine.events.publish(CommandOutputDelta(correlation, "llm.ask", delta))
    completion = stream.completion
    assert completion is not None
    return CommandOutput(
        data=completion.to_dict(),
        message=completion.text.strip(),
        target=completion.model,
        audit_details={"model": completion.model, "calls": len(completion.attempts)},
    )


class TestArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)


@command(
    "llm.test",
    summary="Check that a model follows a one-word instruction (or embeds), and time it",
    permission="llm.ask",
    risk=RiskLevel.READ,
    examples=("test the model", "is the language model working", "health check the llm"),
    timeout_s=300,
)
async def llm_test(ctx: CommandContext, args: TestArgs) -> CommandOutput:
    service = ctx.engine.llm
    config = service.catalog.get(args.model)
    if Capability.EMBEDDINGS in config.capabilities and Capability.CHAT not in config.capabilities:
        embeddings = await service.embed(["ping"], caller_of(ctx), model=config.name)
        data = {
            "model": embeddings.model,
            "model_version": embeddings.model_version,
            "latency_ms": round(embeddings.latency_ms, 1),
            "dimensions": embeddings.dimensions,
        }
        message = (
            f"{config.name} embeds: {embeddings.dimensions} dimensions "
            f"in {embeddings.latency_ms:.0f} ms."
        )
        return CommandOutput(data=data, message=message, target=config.name)
    completion = await service.chat(
        [Message("user", PROBE_INSTRUCTION)],
        caller_of(ctx),
        model=config.name,
        params=GenerationParams(temperature=0, max_tokens=8),
    )
    answered = completion.model
    via = "" if answered == config.name else f" (answered by fallback {answered})"
    reply = completion.text.strip()
    timing = (
        f"first token {completion.first_token_ms or 0:.0f} ms, "
        f"{completion.latency_ms:.0f} ms in all"
    )
    if not follows_probe(reply):
        raise UnusableAnswerError(
            f"{config.name}{via} answers but does not follow a one-word instruction: asked "
            f"{PROBE_INSTRUCTION!r} (temperature 0), expected the one word {PROBE_ANSWER!r}, "
            f"got {reply[:80]!r} ({timing}). It is of little use for questions, reviews or "
            f"commit messages. {STRONGER_MODEL_HINT}"
        )
    message = f"{config.name} answers and follows instructions{via}: {timing}, reply {reply!r}."
    return CommandOutput(data=completion.to_dict(), message=message, target=config.name)


# The probe of `llm test`: an instruction-tuned model answers "Blue"; the pre-trained Gemma
# 270M answers "The sky is blue." or repeats the question, so only the bare word passes.
PROBE_INSTRUCTION = "Answer with one word: the colour of the sky on a clear day."
PROBE_ANSWER = "blue"


def follows_probe(reply: str) -> bool:
    """Whether ``reply`` is the one expected word (any case, quotes and a full stop allowed)."""
    return reply.strip().strip(string.punctuation + string.whitespace).lower() == PROBE_ANSWER


class UsageArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: str = Field(default="30d", description="An age (7d, 12h) or an ISO date.")
    model: str | None = None
    actor: str | None = None


@command(
    "llm.usage",
    summary="Sum model calls, tokens, cost and latency per model, user and day",
    permission="llm.read",
    risk=RiskLevel.READ,
    examples=("how many tokens did we use", "llm usage this week", "what did the models cost"),
)
async def llm_usage(ctx: CommandContext, args: UsageArgs) -> CommandOutput:
    since = parse_when(args.since, field="since")
    model = ctx.engine.llm.catalog.get(args.model).name if args.model else None
    where = AuditFilter(actor=args.actor, action="llm.*", since=since, limit=None)
    records = [
        record
        for record in ctx.engine.audit.store.query(where)
        if record.action in (CALL_ACTION, EMBED_ACTION) and (model is None or record.model == model)
    ]
    rows = [row.to_dict() for row in summarise(records)]
    calls = sum(row["calls"] for row in rows)
    cost = sum(row["cost_usd"] for row in rows)
    tokens = sum(row["tokens_in"] + row["tokens_out"] for row in rows)
    message = f"{calls} model calls since {since:%Y-%m-%d %H:%M}: {tokens} tokens, ${cost:.4f}."
    return CommandOutput(data=rows, message=message)
