"""Project commands declared in logomesh.toml, built into ordinary command specs.

A team writes down the project's own operations once::

    [[devshell.commands]]
    name = "deploy.preview"
    summary = "Deploy a branch to its preview environment"
    argv = ["./scripts/deploy", "--env", "preview", "{branch}"]
    args = { branch = "[a-z0-9][a-z0-9._/-]{0,60}" }
    examples = ["deploy my branch to preview"]
    risk = "danger"

and it becomes a command like any other: same door, permission (default
``devshell.run.<name>``, which ``devshell.*`` grants developers), risk, confirmation and
audit. ``argv`` stays a list: a ``{name}`` placeholder must be a whole element and is
replaced by one value, never split or joined, and each value must fully match its declared
pattern and not start with ``-``. A declaration that breaks these rules is a
:class:`~logomesh.errors.ConfigError` naming the command and the field, raised when the
engine starts, before anything runs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.commands.registry import CommandRegistry
from logomesh.devshell.arguments import pattern_checker
from logomesh.devshell.invoke import ENGINE_BACKSTOP_S, run_tool
from logomesh.devshell.settings import DevShellSettings, UserCommand
from logomesh.errors import ConfigError

_NAME = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*")
_ARGUMENT = re.compile(r"[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def register_user_commands(registry: CommandRegistry, settings: DevShellSettings) -> None:
    """Add every ``[[devshell.commands]]`` entry to ``registry``; ConfigError on a clash."""
    for declared in settings.commands:
        spec = build_user_command(declared)
        if spec.name in registry:
            raise ConfigError(
                f"`devshell.commands` {spec.name!r}: a command with that name already exists "
                "(built in, or declared twice); choose another name."
            )
        registry.register(spec)


def build_user_command(declared: UserCommand) -> CommandSpec:
    """The spec for one declaration, after checking it (ConfigError naming what is wrong)."""
    _check(declared)
    model = _arguments_model(declared)
    argv_text = " ".join(declared.argv)

    async def handler(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        values = args.model_dump()
        argv = [_substitute(element, values) for element in declared.argv]
        result = await run_tool(ctx, argv, timeout_s=declared.timeout_s)
        return CommandOutput(
            data={
                "argv": list(result.argv),
                "exit_code": result.exit_code,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "duration_s": round(result.duration_s, 3),
                "truncated_bytes": result.truncated_bytes,
            },
            message=f"{declared.name} finished in {result.duration_s:.1f} s.",
            output=result.output,
            target=" ".join(str(v) for v in values.values()) or None,
        )

    return CommandSpec(
        name=declared.name,
        summary=declared.summary or f"Run `{argv_text}` (declared in logomesh.toml)",
        args_model=model,
        permission=declared.permission or f"devshell.run.{declared.name}",
        risk=declared.risk,
        handler=handler,
        examples=declared.examples,
        timeout_s=ENGINE_BACKSTOP_S,
    )


def _substitute(element: str, values: dict[str, Any]) -> str:
    match = _PLACEHOLDER.fullmatch(element)
    return str(values[match.group(1)]) if match else element


def _problem(declared: UserCommand, field: str, what: str) -> ConfigError:
    return ConfigError(f"`devshell.commands` {declared.name!r}, field `{field}`: {what}.")


def _check(declared: UserCommand) -> None:
    if not _NAME.fullmatch(declared.name):
        raise _problem(
            declared, "name", "use lower-case words separated by dots, like 'deploy.preview'"
        )
    if not declared.argv or not declared.argv[0]:
        raise _problem(declared, "argv", "it is empty; give the program and its arguments")
    used: set[str] = set()
    for index, element in enumerate(declared.argv):
        names = _PLACEHOLDER.findall(element)
        if not names:
            continue
        if index == 0:
            raise _problem(declared, "argv", "the program (argv[0]) cannot be a placeholder")
        if len(names) > 1 or not _PLACEHOLDER.fullmatch(element):
            raise _problem(
                declared,
                "argv",
                f'{element!r}: a placeholder must be a whole element, like "{{{names[0]}}}" '
                "(values are never spliced into a longer argument)",
            )
        if names[0] not in declared.args:
            raise _problem(
                declared,
                "args",
                f"placeholder {{{names[0]}}} has no pattern; add {names[0]} = "
                '"<regular expression>" to args',
            )
        used.add(names[0])
    for name, pattern in declared.args.items():
        _check_argument(declared, name, pattern, used)


def _check_argument(declared: UserCommand, name: str, pattern: str, used: set[str]) -> None:
    field = f"args.{name}"
    if not _ARGUMENT.fullmatch(name) or hasattr(BaseModel, name):
        raise _problem(declared, field, "argument names are lower-case words (a-z, 0-9, _)")
    if name not in used:
        raise _problem(declared, field, f"declared but argv has no {{{name}}} placeholder")
    try:
        re.compile(pattern)
    except re.error as exc:
        what = f"{pattern!r} is not a valid regular expression ({exc})"
        raise _problem(declared, field, what) from None


def _arguments_model(declared: UserCommand) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (
            Annotated[
                str,
                AfterValidator(pattern_checker(re.compile(pattern))),
                Field(description=f"must match {pattern}"),
            ],
            ...,
        )
        for name, pattern in declared.args.items()
    }
    title = "".join(part.capitalize() for part in re.split(r"[._-]", declared.name)) + "Args"
    model: type[BaseModel] = create_model(title, __config__=ConfigDict(extra="forbid"), **fields)
    return model
