"""``logomesh do "..."``: natural language from the command line.

The text becomes a proposal (``nl.interpret``). The rule for pre-approval, which every line
printed here follows: a read-risk proposal made with confidence runs at once; a write-risk
one runs after a yes at the prompt or with ``--yes``; a danger-risk one runs only after a
yes at the prompt (``--yes`` never pre-approves it: the words chose the command, so the
person must see it; a typed ``logomesh run X --yes`` is the way to skip the prompt). The
words "Running `X`" are printed only when X runs. ``--dry-run`` shows the proposal without
running it; ``--json`` prints it as one object with ``command``, ``arguments``,
``confidence`` and ``alternatives``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from typing import TYPE_CHECKING

from logomesh.cli.render import console, render_result
from logomesh.cli.session import EXIT_OK, EXIT_USAGE, exit_code_for, terminal_confirmer

if TYPE_CHECKING:
    from logomesh.commands.models import ConfirmationRequest, Confirmer
    from logomesh.engine import Engine
    from logomesh.nl.flow import TextOutcome

# The engine's code for "confirmation was needed and not given": nothing ran.
_NOT_CONFIRMED = "command.cancelled"


class _ProposalConfirmer:
    """The terminal prompt for a proposal, saying "Running" the moment the answer is yes."""

    def __init__(self, prompt: Confirmer, yes: bool) -> None:
        self._prompt = prompt
        self._yes = yes
        self.answered_yes = False

    async def confirm(self, request: ConfirmationRequest) -> bool:
        from logomesh.commands.values import RiskLevel

        err = console(stderr=True)
        if self._yes and request.risk is RiskLevel.DANGER:
            err.print(
                "--yes does not confirm a danger-risk command proposed from your words: "
                "answer the question below.",
                markup=False,
                highlight=False,
            )
        answer = await self._prompt.confirm(request)
        if answer:
            self.answered_yes = True
            err.print(f"Running `{request.command}`…", markup=False, highlight=False)
        return answer


def run_text(
    engine: Engine,
    text: str,
    *,
    dry_run: bool = False,
    yes: bool = False,
    json_output: bool = False,
    wait_for_approval: bool = False,
    confirmer: Confirmer | None = None,
    runner: asyncio.Runner | None = None,
) -> int:
    """Interpret and maybe run ``text``; render; return the exit code.

    ``runner`` is the adapter's loop when there is one (the shell's); else one
    ``asyncio.run`` for this call."""

    from logomesh.commands.values import Actor, Source
    from logomesh.nl.flow import execute_text

    actor = Actor(Source.CLI, getpass.getuser())
    prompt = confirmer or terminal_confirmer()
    asking = _ProposalConfirmer(prompt, yes) if prompt is not None else None
    work = execute_text(
        engine,
        text,
        actor,
        asking,
        dry_run=dry_run,
        confirmed=yes,
        wait_for_approval=wait_for_approval,
    )
    outcome = runner.run(work) if runner is not None else asyncio.run(work)
    if json_output:
        print(json.dumps(outcome.to_dict(), ensure_ascii=False, default=str))
    else:
        render_outcome(outcome, asked=asking is not None and asking.answered_yes, yes=yes)
    return _exit_code(outcome)


def render_outcome(outcome: TextOutcome, *, asked: bool = False, yes: bool = False) -> None:
    """The interpretation's line, then the result. ``asked``: "Running" was said at the
    prompt already; ``yes``: the request carried --yes."""
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
    if not asked:
        err.print(_said_before(outcome, yes), markup=False, highlight=False)
    render_result(outcome.result)


def _said_before(outcome: TextOutcome, yes: bool) -> str:
    """What the proposal was and, if it ran without a prompt, that it ran and why."""
    from logomesh.nl.flow import Decision, spoken_call

    message = outcome.interpretation.message
    result = outcome.result
    if outcome.decision is not Decision.CONFIRM or result is None:
        return message  # read risk: the message already says "Running"
    if result.error is not None and result.error.code == _NOT_CONFIRMED:
        return message  # "Proposed ...": the error below says why it did not run
    proposal = outcome.proposal
    call = spoken_call(str(proposal.get("command")), proposal.get("arguments", {}))
    confidence = f"{proposal.get('confidence', 0.0):.0%}"
    risk = proposal.get("risk")
    # Danger is never pre-approved by --yes: without a prompt, an approver said yes (--wait).
    how = "confirmed in advance by --yes" if yes and risk != "danger" else "approved on its ticket"
    return f"Running `{call}` ({risk} risk, {confidence} sure; {how})."


def _exit_code(outcome: TextOutcome) -> int:
    if outcome.result is not None:
        return exit_code_for(outcome.result)
    if not outcome.interpretation.ok:
        return exit_code_for(outcome.interpretation)
    return EXIT_OK if outcome.ok else EXIT_USAGE
