"""``code.explain``, ``code.docstring`` and ``code.fix``: one model call each, audited.

The caller sends the code (an editor has the buffer, which may be unsaved), where it is and
what language; the command asks the ``code_actions`` model (or ``model``) and returns text
(an explanation) or an edit relative to the code it was sent (a docstring to insert before
one of its lines, a replacement for all of it), for the caller to show or to apply once a
person has confirmed it. The code is redacted before the model sees it: a remote model
never receives a secret from the buffer, and the ``llm.call`` record holds no secret
either. The commands are reads: they change nothing; applying an edit is the caller's.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from logomesh.code import docstrings
from logomesh.code.prompts import (
    MAX_EXCERPT,
    Prompt,
    explain_prompt,
    fix_prompt,
    language_of,
    read_explanation,
    read_fix,
)
from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import (
    InvalidArgumentsError,
    LLMError,
    ModelUnavailableError,
    ProviderMissingError,
    UnknownModelError,
)
from logomesh.llm import Caller, Capability, GenerationParams, Message, Purpose
from logomesh.security.redaction import redact_text
from logomesh.trust import HOW_TO_TRUST

PERMISSION = "llm.code"
# The most code a caller may send: an editor sends at most a few excerpts' worth.
MAX_TEXT = 64_000
TIMEOUT_S = 120


class LineRange(BaseModel):
    """Where the code is in its file: lines numbered from 1, both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LineRange:
        if self.end_line < self.start_line:
            raise ValueError(f"end_line {self.end_line} comes before start_line {self.start_line}")
        return self


class CodeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="the file, relative to the workspace")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="the code itself")
    language: str = Field(default="", description="editor language id; default: from path")
    range: LineRange | None = Field(default=None, description="where the code is in the file")
    model: str | None = Field(default=None, description="default: the code_actions model")


class FixArgs(CodeArgs):
    diagnostic: str = Field(min_length=1, description="the problem, as the linter said it")


@command(
    "code.explain",
    summary="Explain a piece of code in a few sentences, with the code-actions model",
    permission=PERMISSION,
    risk=RiskLevel.READ,
    examples=("explain this code", "what does this function do"),
    timeout_s=TIMEOUT_S,
)
async def code_explain(ctx: CommandContext, args: CodeArgs) -> CommandOutput:
    language = language_of(args.path, args.language)
    prompt = explain_prompt(redact_text(args.text), language, args.path)
    model, answer, _ = await _ask(ctx, prompt, args.model)
    explanation = read_explanation(answer, model)
    return CommandOutput(
        data={"explanation": explanation, "model": model, "language": language},
        message=explanation,
        target=args.path,
        audit_details={"model": model, "lines": _lines(args)},
    )


@command(
    "code.docstring",
    summary="Write a docstring for a function or class, as an edit to insert",
    permission=PERMISSION,
    risk=RiskLevel.READ,
    examples=("add a docstring to this function", "document this function"),
    timeout_s=TIMEOUT_S,
)
async def code_docstring(ctx: CommandContext, args: CodeArgs) -> CommandOutput:
    language = language_of(args.path, args.language)
    code = redact_text(args.text)
    placement = docstrings.place(code, language, args.path)
    prompt = docstrings.docstring_prompt(code, language, placement)
    model, answer, cut_short = await _ask(ctx, prompt, args.model)
    lines = docstrings.read_docstring(answer, model, cut_short=cut_short)
    insert = docstrings.render(lines, language, placement.indent)
    return CommandOutput(
        data={
            "insert_line": placement.line,
            "insert_text": insert,
            "docstring": "\n".join(lines),
            "model": model,
            "language": language,
        },
        message=f"Docstring for line {placement.line + 1}: {lines[0]}",
        target=args.path,
        audit_details={"model": model, "lines": _lines(args)},
    )


@command(
    "code.fix",
    summary="Fix a diagnostic in a few lines of code, as a replacement for those lines",
    permission=PERMISSION,
    risk=RiskLevel.READ,
    examples=("fix this error", "fix the lint warning here"),
    timeout_s=TIMEOUT_S,
)
async def code_fix(ctx: CommandContext, args: FixArgs) -> CommandOutput:
    if len(args.text) > MAX_EXCERPT:
        raise InvalidArgumentsError(
            f"`text`: {len(args.text)} characters is more than a fix may cover "
            f"({MAX_EXCERPT}); send only the lines the diagnostic is on."
        )
    language = language_of(args.path, args.language)
    code = redact_text(args.text)
    line = args.range.start_line if args.range else None
    prompt = fix_prompt(code, language, redact_text(args.diagnostic), line)
    model, answer, _ = await _ask(ctx, prompt, args.model)
    replacement = read_fix(answer, code, language, model)
    return CommandOutput(
        data={"replacement": replacement, "model": model, "language": language},
        message=f"{model} proposes a fix for {args.path}: {args.diagnostic}",
        target=args.path,
        audit_details={"model": model, "lines": _lines(args)},
    )


async def _ask(ctx: CommandContext, prompt: Prompt, model: str | None) -> tuple[str, str, bool]:
    """The model's name, its answer, and whether it ran out of tokens.

    A model that completes text gets the prompt to continue; a chat-only one the
    instruction. Every attempt is an ``llm.call`` record under this command's correlation id.
    """
    try:
        return await _ask_model(ctx, prompt, model)
    except (UnknownModelError, ModelUnavailableError, ProviderMissingError) as exc:
        raise type(exc)(exc.user_message + _choosing(ctx, exc), code=exc.code) from exc


def _choosing(ctx: CommandContext, exc: LLMError) -> str:
    """How to get a model for code actions, said after why this one cannot answer."""
    choose = (
        " Pick the code-actions model with the editor's `models.code_actions` setting (or "
        "`[llm.defaults] code_actions` in your config)."
    )
    if isinstance(exc, UnknownModelError) and not ctx.engine.settings.workspace_trusted:
        # A workspace's [llm.defaults] still apply untrusted; its [[llm.models]] do not.
        return (
            " This workspace is not trusted, so the models its logomesh.toml declares are "
            f"left out: to use them, {HOW_TO_TRUST}." + choose
        )
    return choose


async def _ask_model(
    ctx: CommandContext, prompt: Prompt, model: str | None
) -> tuple[str, str, bool]:
    service = ctx.engine.llm
    catalog = service.catalog
    config = catalog.get(model) if model else catalog.default_for(Purpose.CODE_ACTIONS)
    request = ctx.request
    caller = Caller(ctx.identity.name, request.source, request.correlation_id)
    if Capability.COMPLETION in config.capabilities:
        params = GenerationParams(temperature=0, max_tokens=prompt.max_tokens, stop=prompt.stop)
        completion = await service.complete(
            prompt.completion, caller, model=config.name, params=params
        )
    else:
        # No stop sequences: a chat model's answer starts with the fence they would cut at.
        params = GenerationParams(temperature=0, max_tokens=prompt.max_tokens)
        completion = await service.chat(
            [Message("user", prompt.instruction)], caller, model=config.name, params=params
        )
    return completion.model, completion.text, completion.finish_reason == "length"


def _lines(args: CodeArgs) -> str | None:
    return f"{args.range.start_line}-{args.range.end_line}" if args.range else None
