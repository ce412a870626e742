"""``logomesh do "..."``: natural language from the command line.

The text becomes a proposal (``nl.interpret``); read-risk proposals made with confidence
run at once, anything else asks first (or needs ``--yes``, which never pre-approves a
danger-risk command). ``--dry-run`` shows the proposal without running it; ``--json``
prints it as one object with ``command``, ``arguments``, ``confidence`` and ``alternatives``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from typing import TYPE_CHECKING

from logomesh.cli.render import console, render_result
from logomesh.cli.session import EXIT_OK, EXIT_USAGE, exit_code_for, terminal_confirmer

if TYPE_CHECKING:
    from logomesh.commands.models import Confirmer
    from logomesh.engine import Engine
    from logomesh.nl.flow import TextOutcome


def run_text(
    engine: Engine,
    text: str,
    *,
    dry_run: bool = False,
    yes: bool = False,
    json_output: bool = False,
    confirmer: Confirmer | None = None,
    runner: asyncio.Runner | None = None,
) -> int:
    """Interpret and maybe run ``text``; render; return the exit code.

    ``runner`` is the adapter's loop when there is one (the shell's); else one
    ``asyncio.run`` for this call."""

    from logomesh.commands.values import Actor, Source
    from logomesh.nl.flow import execute_text

    actor = Actor(Source.CLI, getpass.getuser())
    work = execute_text(
        engine, text, actor, confirmer or terminal_confirmer(), dry_run=dry_run, confirmed=yes
    )
    outcome = runner.run(work) if runner is not None else asyncio.run(work)
    if json_output:
        print(json.dumps(outcome.to_dict(), ensure_ascii=False, default=str))
    else:
        render_outcome(outcome)
    return _exit_code(outcome)


def render_outcome(outcome: TextOutcome) -> None:
    err = console(stderr=True)
    if outcome.result is None:
        if not outcome.interpretation.ok:
            render_result(outcome.interpretation)
            return
        err.print(outcome.interpretation.message, markup=False, highlight=False)
        for alternative in outcome.proposal.get("alternatives", [])[:3]:
            err.print(
                f"  {alternative['command']}  ({alternative['confidence']:.0%})",
                markup=False,
                highlight=False,
            )
        return
    err.print(outcome.interpretation.message, markup=False, highlight=False)
    render_result(outcome.result)


def _exit_code(outcome: TextOutcome) -> int:
    if outcome.result is not None:
        return exit_code_for(outcome.result)
    if not outcome.interpretation.ok:
        return exit_code_for(outcome.interpretation)
    return EXIT_OK if outcome.ok else EXIT_USAGE
