"""``llm.add``: declare a model in the workspace's logomesh.toml in one step.

The built-in Gemma 270M cannot answer questions (it is pre-trained, not instruction-tuned),
so the way to a useful model must be one command, not a page of TOML to copy. The command
appends one ``[[llm.models]]`` table (and, when asked, sets ``[llm.defaults]``) to the file,
keeping everything already in it; the result is parsed and checked with the same models the
configuration loader uses before anything is written, so it never leaves a broken file.

``[[llm.models]]`` is one of the keys only a trusted workspace may use, and a changed
logomesh.toml needs trust again. The person who runs this made the change, so a workspace
that was trusted just before is trusted again as it is after (as plugin files written on
request are); an untrusted one stays untrusted, and the message says to run ``logomesh trust``.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logomesh.builtin import keep_trust
from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import ConfigError, InvalidArgumentsError
from logomesh.layout import WORKSPACE_FILE
from logomesh.llm.settings import LLMSettings, ModelConfig, ProviderName, Purpose

# Providers whose whole declaration is a model id and a server: the ones a person adds to
# get real answers. Others (a GGUF file, a llama-index class) are written by hand.
_DECLARABLE = (ProviderName.OLLAMA, ProviderName.OPENAI_COMPATIBLE)
_DEFAULTS_TABLE = re.compile(r"^\s*\[\s*llm\.defaults\s*\]\s*(#.*)?$")
_TABLE = re.compile(r"^\s*\[")


class AddArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", description="The name LogoMesh calls it by."
    )
    provider: ProviderName = Field(description="ollama or openai-compatible.")
    model: str = Field(min_length=1, description="The provider's model id (llama3.2:3b).")
    base_url: str | None = Field(default=None, description="The server; the provider's default.")
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="openai-compatible: the variable holding the API key (never the key).",
    )
    default: tuple[Purpose, ...] = Field(
        default=(), description="Purposes it becomes the default for (chat, code_actions, nl)."
    )


@command(
    "llm.add",
    summary="Declare a language model (Ollama, an OpenAI-compatible server) in logomesh.toml",
    permission="engine.admin",
    risk=RiskLevel.WRITE,
    examples=(
        "declare an ollama model",
        "add a language model served by ollama",
        "use a stronger llm than gemma",
    ),
)
async def llm_add(ctx: CommandContext, args: AddArgs) -> CommandOutput:
    settings = ctx.engine.settings
    config_file = settings.workspace / WORKSPACE_FILE
    declared = model_table(args)
    text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    after = with_model(text, declared, args.default, config_file)
    _, kept_trust = await keep_trust(ctx, lambda: config_file.write_text(after, encoding="utf-8"))
    if kept_trust:
        trust = "The workspace stays trusted (you made this change)."
    else:
        trust = (
            "This workspace is not trusted, so its [[llm.models]] stay off: review "
            f"{config_file}, then run `logomesh trust` (a changed logomesh.toml asks again)."
        )
    purposes = ", ".join(purpose.value for purpose in args.default)
    default = f" It is now the default for {purposes}." if purposes else ""
    message = (
        f"Declared {args.name} ({args.provider} model {args.model}) in {config_file}.{default} "
        f"{trust} Check it with `logomesh llm test {args.name}`."
    )
    data = {
        "file": str(config_file),
        "model": declared,
        "default_for": [purpose.value for purpose in args.default],
        "trusted": kept_trust,
    }
    return CommandOutput(data=data, message=message, target=args.name)


def model_table(args: AddArgs) -> dict[str, Any]:
    """The ``[[llm.models]]`` table for ``args``, as it will be parsed back."""
    if args.provider not in _DECLARABLE:
        raise InvalidArgumentsError(
            f"`provider`: llm add declares {' or '.join(_DECLARABLE)} models (got "
            f"{args.provider!s}); write a [[llm.models]] table for {args.provider} in "
            "logomesh.toml by hand (docs/llm.md shows one)."
        )
    if args.api_key_env and args.provider is not ProviderName.OPENAI_COMPATIBLE:
        raise InvalidArgumentsError(
            f"`api_key_env`: only openai-compatible models take an API key; {args.provider} "
            "does not. Leave --api-key-env out."
        )
    options: dict[str, Any] = {"model": args.model}
    if args.base_url:
        options["base_url"] = args.base_url
    if args.api_key_env:
        options["api_key_env"] = args.api_key_env
    return {"name": args.name, "provider": str(args.provider), "options": options}


def with_model(
    text: str, table: dict[str, Any], defaults: tuple[Purpose, ...], config_file: Path
) -> str:
    """``text`` with ``table`` appended and ``defaults`` set, checked before it is returned."""
    before = _parsed(text, config_file)
    models = before.get("llm", {}).get("models", [])
    name = table["name"]
    if any(isinstance(m, dict) and m.get("name") == name for m in models):
        raise InvalidArgumentsError(
            f"`name`: {config_file} already declares a model named {name!r}. Pick another "
            f"name, or edit its [[llm.models]] table there."
        )
    options = ", ".join(f"{key} = {json.dumps(value)}" for key, value in table["options"].items())
    block = (
        f"[[llm.models]]\nname = {json.dumps(name)}\nprovider = {json.dumps(table['provider'])}\n"
        f"options = {{ {options} }}\n"
    )
    after = _with_defaults(text, name, defaults)
    after = after + ("" if not after or after.endswith("\n") else "\n")
    after += ("\n" if after else "") + block
    settled = _parsed(after, config_file)
    llm = settled.get("llm", {})
    written = llm.get("models", [])
    chosen = llm.get("defaults", {})
    if not written or written[-1] != table or any(chosen.get(p.value) != name for p in defaults):
        raise ConfigError(
            f"{config_file} could not be edited safely (its [llm] settings are not written as "
            f"tables). Add this by hand:\n{block}"
        )
    try:
        LLMSettings.model_validate(llm)
        ModelConfig.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(f"The model would not be valid in {config_file}: {exc}") from exc
    return after


def _with_defaults(text: str, name: str, defaults: tuple[Purpose, ...]) -> str:
    """``text`` with ``[llm.defaults]`` naming ``name`` for each purpose, comments kept."""
    if not defaults:
        return text
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    table = next((i for i, line in enumerate(lines) if _DEFAULTS_TABLE.match(line)), None)
    if table is None:
        keys = "".join(f"{purpose.value} = {json.dumps(name)}\n" for purpose in defaults)
        return "".join(lines) + ("\n" if lines else "") + f"[llm.defaults]\n{keys}"
    end = next((i for i in range(table + 1, len(lines)) if _TABLE.match(lines[i])), len(lines))
    for purpose in defaults:
        line = f"{purpose.value} = {json.dumps(name)}\n"
        key = re.compile(rf"^\s*{purpose.value}\s*=")
        found = next((i for i in range(table + 1, end) if key.match(lines[i])), None)
        if found is None:
            lines.insert(table + 1, line)
            end += 1
        else:
            lines[found] = line
    return "".join(lines)


def _parsed(text: str, config_file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{config_file} is not valid TOML ({exc}); fix it first, then run llm add again."
        ) from exc
