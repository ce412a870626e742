"""``logomesh shell``: an interactive prompt running commands through the same door.

Lines are ``COMMAND key=value ...``; ``help [COMMAND]`` explains, ``clear`` clears the
screen, ``exit`` leaves. Errors end in the shell's own words (``help``), not the CLI's. History
persists in the workspace's state directory and Tab completes command names and argument
keys (stdlib readline). Without a terminal (CI, ``make run`` piped) the shell prints the
status, says on stderr that it did not open and how to open it, and exits, so the quick
start never hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from logomesh.cli.render import console, render_result
from logomesh.cli.session import (
    TerminalConfirmer,
    exit_code_for,
    run_quietly,
    state_of,
)
from logomesh.commands.assignments import parse_assignments

if TYPE_CHECKING:
    from logomesh.engine import Engine

_BUILTINS = ("help", "clear", "exit", "quit")
BANNER = (
    "LogoMesh shell. Type a command such as `status` or `audit.query limit=5`, or say what "
    'you want ("what changed since main?"). `help` lists commands, `help COMMAND` shows '
    "its arguments, `exit` leaves."
)
# The shell's words for what to do after an error (the CLI's are in render.CLI_HINTS).
SHELL_HINTS = {"command.unknown": "Type `help` to list them."}
SHELL_WORDS = (
    ("help [COMMAND]", "list the commands, or show one command's arguments"),
    ("clear", "clear the screen"),
    ("exit, quit", "leave the shell (or Ctrl-D)"),
)

NO_TERMINAL = (
    "Note: no terminal (stdin or stdout is not one), so the shell was not opened; run "
    "`logomesh shell` in a terminal (`.venv/bin/logomesh shell` from the repository root)."
)


def run_shell(ctx: typer.Context) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        result = run_quietly(ctx, "status")
        render_result(result)
        state_of(ctx).say_if_set_up()
        # `make run` in CI or a pipe ends here: say why no prompt came, and how to get one.
        typer.echo(NO_TERMINAL, err=True)
        return exit_code_for(result)
    engine = state_of(ctx).engine()
    history = engine.settings.state_dir / "shell_history"
    _setup_readline(engine, history)
    try:
        # One event loop for the whole session: every line runs on it, and engine events
        # (plugins' too) are delivered on it, in order; see docs/architecture.md.
        with asyncio.Runner() as runner:
            engine.events.bind(runner.get_loop())
            try:
                _serve(engine, runner)
            finally:
                engine.events.unbind()
                _save_history(history)
    finally:
        # Stops (and waits for) the model warm-up and the embedding worker, among others:
        # left running into interpreter shutdown, a thread inside torch aborts the process.
        engine.close()
    return 0


def _serve(engine: Engine, runner: asyncio.Runner) -> None:
    # Natural language needs the model: load it while the person is still typing.
    engine.interpreter.warm_up_in_background()
    # Keep audit search current: records are embedded in the background as they arrive.
    engine.start_embedding_worker()
    # Plugins start now, and reload when their files change (plugins.watch).
    engine.plugins.serve_in_background()
    out = console()
    out.print(BANNER, markup=False)
    while True:
        try:
            line = input("logomesh> ")
        except EOFError:
            out.print()
            break
        except KeyboardInterrupt:
            out.print("^C")
            continue
        if not handle_line(engine, line, runner):
            break


def handle_line(engine: Engine, line: str, runner: asyncio.Runner) -> bool:
    """Run one shell line on the session's loop; False when the user asked to leave."""
    from logomesh.commands.models import CommandRequest
    from logomesh.commands.values import Actor, Source
    from logomesh.errors import LogoMeshError

    err = console(stderr=True)
    try:
        words = shlex.split(line)
    except ValueError as exc:
        err.print(f"Error: {exc} (check your quotes).", markup=False)
        return True
    if not words:
        return True
    name, rest = words[0], words[1:]
    if name in ("exit", "quit"):
        return False
    if name in ("help", "?"):
        _help(engine, rest[0] if rest else None)
        return True
    if name == "clear":
        console().clear()
        return True
    # A dotted first word is a command name, mistyped or not; anything else may be words.
    if name not in engine.registry and "." not in name:
        from logomesh.cli.do_cli import run_text

        run_text(engine, line, confirmer=TerminalConfirmer(), runner=runner)
        return True
    try:
        arguments = parse_assignments(rest)
    except LogoMeshError as exc:
        err.print(f"Error: {exc.user_message}", markup=False)
        return True
    actor = Actor(Source.CLI, getpass.getuser())
    request = CommandRequest(name, actor, arguments)
    result = runner.run(engine.execute(request, TerminalConfirmer()))
    render_result(result, hints=SHELL_HINTS)
    return True


def _help(engine: Engine, name: str | None) -> None:
    from logomesh.errors import UnknownCommandError

    out = console()
    if name is not None:
        try:
            spec = engine.registry.get(name)
        except UnknownCommandError as exc:
            hint = SHELL_HINTS["command.unknown"]
            console(stderr=True).print(f"Error: {exc.user_message} {hint}", markup=False)
            return
    else:
        for spec in engine.registry:
            out.print(f"  {spec.name:<18} {spec.summary}", markup=False, highlight=False)
        out.print("Shell:", markup=False)
        for words, meaning in SHELL_WORDS:
            out.print(f"  {words:<18} {meaning}", markup=False, highlight=False)
        return
    out.print(f"{spec.name}: {spec.summary} (risk: {spec.risk})", markup=False)
    for field, info in spec.args_model.model_fields.items():
        default = (
            "required"
            if info.is_required()
            else _default(info.get_default(call_default_factory=True))
        )
        description = f" - {info.description}" if info.description else ""
        out.print(f"  {field}=...  ({default}){description}", markup=False)
    for example in spec.examples:
        out.print(f"  e.g. {example!r}", markup=False)


def _default(value: object) -> str:
    """An argument's default as help shows it; None means the argument may be left out."""
    return "optional" if value is None else f"default {value!r}"


def completions(engine: Engine, line: str, text: str) -> list[str]:
    """What Tab may complete ``text`` to, given the whole line so far."""
    words = line.split()
    if not words or (len(words) == 1 and not line.endswith(" ")):
        names = [spec.name for spec in engine.registry] + list(_BUILTINS)
        return sorted(name for name in names if name.startswith(text))
    if words[0] in ("help", "?"):
        return sorted(spec.name for spec in engine.registry if spec.name.startswith(text))
    if words[0] not in engine.registry:
        return []
    fields = engine.registry.get(words[0]).args_model.model_fields
    return sorted(f"{field}=" for field in fields if f"{field}=".startswith(text))


def _setup_readline(engine: Engine, history: Path) -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - some platforms lack it; the shell still works
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(str(history))
    readline.set_history_length(1000)
    readline.set_completer_delims(" \t")
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")

    def complete(text: str, state: int) -> str | None:
        options = completions(engine, readline.get_line_buffer(), text)
        return options[state] if state < len(options) else None

    readline.set_completer(complete)


def _save_history(history: Path) -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(str(history))
