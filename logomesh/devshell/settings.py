"""The ``[devshell]`` section of the configuration: output caps, timeouts, the child's
environment, and the project's own ``[[devshell.commands]]``.

It lives with the feature it configures; ``config`` imports it to build ``Settings``, and
nothing here imports ``config`` back.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.values import RiskLevel


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserCommand(_Section):
    """A project command declared under ``[[devshell.commands]]`` in logomesh.toml.

    ``argv`` is a list, never a command line: each ``{name}`` placeholder is a whole element,
    replaced by the argument ``name``, whose value must fully match ``args[name]`` (a
    regular expression). logomesh.devshell.user_commands checks the declaration.
    """

    name: str
    argv: tuple[str, ...]
    summary: str = ""
    examples: tuple[str, ...] = ()
    risk: RiskLevel = RiskLevel.WRITE
    permission: str | None = Field(default=None, description="default: devshell.run.<name>")
    timeout_s: float | None = Field(default=None, gt=0)
    args: dict[str, str] = Field(default_factory=dict, description="argument -> regex")


class DevShellSettings(_Section):
    """How DevShell runs development tools, and the project's own commands."""

    output_head_bytes: int = Field(default=64 * 1024, ge=0, description="Output kept: start.")
    output_tail_bytes: int = Field(default=64 * 1024, ge=0, description="Output kept: end.")
    default_timeout_s: float = Field(default=600.0, gt=0, le=86_400)
    allow_env: tuple[str, ...] = Field(
        default=(), description="More variables for child processes (secret-looking ones never)."
    )
    commands: tuple[UserCommand, ...] = ()
