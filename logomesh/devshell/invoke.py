"""Running a tool on behalf of a command: where the engine's settings meet the runner.

Handlers call :func:`run_tool` rather than :func:`~logomesh.devshell.runner.run`, so every
DevShell command gets the same things without repeating them: the workspace as the working
directory, the scrubbed environment, the output limits and deadline from ``[devshell]``,
output lines forwarded as progress events, and a failed or timed-out child turned into an
error whose message ends with the child's last lines.

Deadlines: the child's own deadline is ``timeout_s`` of the request, else of the command,
else ``devshell.default_timeout_s``. DevShell commands declare :data:`ENGINE_BACKSTOP_S` as
their engine timeout, so the runner's deadline, which stops the process group and says so,
is the one that fires; the engine's stays as a backstop.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from logomesh.commands.models import CommandContext
from logomesh.devshell.capture import OutputLimits
from logomesh.devshell.environment import child_environment
from logomesh.devshell.paths import WorkspacePath, resolve_in_workspace
from logomesh.devshell.runner import RunResult, run
from logomesh.errors import CommandError, CommandTimeoutError

ENGINE_BACKSTOP_S = 86_400.0 + 60.0


def workspace_root(ctx: CommandContext) -> Path:
    return ctx.engine.settings.workspace.resolve()


def resolve_path(
    ctx: CommandContext, value: str, *, argument: str = "path", must_exist: bool = True
) -> WorkspacePath:
    return resolve_in_workspace(
        workspace_root(ctx), value, argument=argument, must_exist=must_exist
    )


def describe(argv: Sequence[str]) -> str:
    """An argv as a person would type it, shortened for messages."""
    text = shlex.join(argv)
    return text if len(text) <= 160 else text[:157] + "..."


async def run_tool(
    ctx: CommandContext,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
    head_bytes: int | None = None,
    ok_codes: Collection[int] | None = (0,),
) -> RunResult:
    """Run ``argv`` for this command; raise CommandError unless its exit code is in ``ok_codes``.

    ``ok_codes=None`` accepts any exit code (the caller reads it: test runners, linters).
    ``env`` holds DevShell's own additions to the scrubbed environment.
    """
    settings = ctx.engine.settings.devshell
    root = workspace_root(ctx)
    workdir = cwd or root
    if not workdir.resolve().is_relative_to(root):
        raise CommandError(f"DevShell runs tools only inside the workspace {root}.")
    limit = ctx.request.timeout_s or timeout_s or settings.default_timeout_s
    result = await run(
        argv,
        cwd=workdir,
        env=child_environment(os.environ, extra_names=settings.allow_env, overrides=env),
        timeout_s=limit,
        limits=OutputLimits(
            max(head_bytes or 0, settings.output_head_bytes), settings.output_tail_bytes
        ),
        on_output=ctx.progress,
    )
    if result.timed_out:
        raise CommandTimeoutError(
            f"`{describe(argv)}` did not finish within {limit:g} s; it and every process it "
            f"started were stopped.{_ending(result)} Pass a longer timeout, or raise "
            "`devshell.default_timeout_s` in logomesh.toml."
        )
    if ok_codes is not None and result.exit_code not in ok_codes:
        raise CommandError(
            f"`{describe(argv)}` failed with exit status {result.exit_code}.{_ending(result)}"
        )
    return result


def _ending(result: RunResult) -> str:
    tail = result.last_lines()
    return f" Its last output:\n{tail}\n" if tail else ""
