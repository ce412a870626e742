"""What ``logomesh pipeline run`` shows while a run goes on.

The run's events (:mod:`logomesh.pipelines.events`) are the whole contract: :class:`RunView`
is a state machine they feed, with no I/O and an injected clock, so what a person sees is
tested without a terminal. :func:`follow_run` subscribes it to the engine's bus for one run
(by the correlation id of the ``pipeline.NAME`` request that started it) and shows it the
way the output wants: a ``rich`` live table on a terminal, one plain line per finished step
in a log or a pipe (no control codes), or one JSON event per line with ``--json``.

A nested pipeline's events carry the correlation id of its own ``pipeline.NAME`` request
and are ignored: its step in the parent run shows its outcome when it finishes. The tables
of ``pipeline runs``, ``show`` and ``list`` are in :mod:`logomesh.cli.pipeline_tables`
(re-exported here).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from logomesh.cli.pipeline_tables import (
    format_duration,
    render_pipelines,
    render_run,
    render_runs,
    state_text,
)
from logomesh.cli.render import console as stdout_console
from logomesh.events import ApprovalDecided, ApprovalRequested, Event
from logomesh.pipelines.events import (
    RUN_EVENTS,
    PipelineRunFinished,
    PipelineRunStarted,
    StepFinished,
    StepProgress,
    StepRetrying,
    StepStarted,
    event_dict,
)
from logomesh.plural import plural

if TYPE_CHECKING:
    from logomesh.engine import Engine

__all__ = ["RunView", "StepRow", "follow_run", "render_pipelines", "render_run", "render_runs"]

Clock = Callable[[], float]


@dataclass
class StepRow:
    """One step (or ``ID[N]`` item of a ``for_each``) as the view knows it."""

    step: str
    state: str = "pending"
    command: str = ""
    attempt: int = 0
    started: float | None = None  # the clock at its first attempt's start
    duration_s: float | None = None  # set once it finished
    line: str = ""  # its last progress line, or what it finished with
    retry_at: float | None = None
    retry_delay_s: float = 0.0
    retry_reason: str = ""
    ticket: str | None = None  # the approval ticket it opened (its last)
    waiting: bool = False  # for that ticket's decision


class RunView:
    """The rows of one run, fed its events in order; :meth:`render` draws them as they are.

    ``feed`` and ``render`` may be called from different threads (the bus's and the live
    display's), so both hold one lock.
    """

    def __init__(self, *, clock: Clock = time.monotonic, max_items: int = 10) -> None:
        self._clock = clock
        self.max_items = max_items  # for_each items shown per step; the rest are counted
        self._lock = threading.Lock()
        self.rows: dict[str, StepRow] = {}
        # Rows in the order shown: by step (as announced, else as first seen), then items.
        self._groups: dict[str, list[StepRow]] = {}
        self.pipeline = ""
        self.run_id = ""
        self.state: str | None = None  # the run's, once it finished
        self._started: float | None = None
        self._finished: float | None = None

    def feed(self, event: Event) -> bool:
        """Take one event into the view; False if it says nothing about this run."""
        with self._lock:
            return self._feed(event)

    def _feed(self, event: Event) -> bool:
        now = self._clock()
        if isinstance(event, PipelineRunStarted):
            self.pipeline, self.run_id, self._started = event.pipeline, event.run_id, now
            for step in event.steps:
                self._row(step)
        elif isinstance(event, StepStarted):
            row = self._row(event.step)
            row.state, row.command, row.attempt = "running", event.command, event.attempt
            row.retry_at, row.line = None, ""  # what an earlier attempt said is stale
            row.started = now if row.started is None else row.started
        elif isinstance(event, StepRetrying):
            row = self._row(event.step)
            row.state, row.attempt, row.retry_at = "retrying", event.attempt, now
            row.retry_delay_s, row.retry_reason = event.delay_s, event.reason
        elif isinstance(event, StepProgress):
            percent = "" if event.fraction is None else f"{event.fraction:.0%} "
            self._row(event.step).line = (percent + _last_line(event.message)).strip()
        elif isinstance(event, StepFinished):
            self._finish_step(self._row(event.step), event, now)
        elif isinstance(event, PipelineRunFinished):
            self.state, self._finished = event.state, now
        elif isinstance(event, ApprovalRequested | ApprovalDecided):
            return self._approval(event)
        else:
            return False
        return True

    def _finish_step(self, row: StepRow, event: StepFinished, now: float) -> None:
        row.state, row.retry_at, row.waiting = event.state, None, False
        row.attempt = event.attempts or row.attempt
        if event.duration_ms > 0:
            row.duration_s = event.duration_ms / 1000
        elif row.started is not None:  # the event does not say: as long as the view saw
            row.duration_s = now - row.started
        if event.message.strip():
            row.line = _last_line(event.message)

    def _approval(self, event: ApprovalRequested | ApprovalDecided) -> bool:
        """A ticket for a command one of this run's running steps runs is that step's wait
        (the ticket's correlation id is the step's request, which no run event names)."""
        if isinstance(event, ApprovalRequested):
            for row in self.rows.values():
                if row.state == "running" and row.command == event.command and not row.waiting:
                    row.ticket, row.waiting = event.ticket_id, True
                    row.line = f"waits for approval: logomesh approvals approve {event.ticket_id}"
                    return True
            return False
        for row in self.rows.values():
            if row.ticket == event.ticket_id and row.waiting:
                row.waiting = False
                row.line = f"approval {event.state}" + (f" by {event.by}" if event.by else "")
                return True
        return False

    def step_of_ticket(self, ticket_id: str) -> str | None:
        """The step of this run that opened approval ticket ``ticket_id``, if one did."""
        with self._lock:
            return next((r.step for r in self.rows.values() if r.ticket == ticket_id), None)

    def _row(self, step: str) -> StepRow:
        """The row of ``step``, made if new; an item ``ID[N]`` goes under its step ``ID``."""
        row = self.rows.get(step)
        if row is None:
            row = self.rows[step] = StepRow(step)
            self._groups.setdefault(step.partition("[")[0], []).append(row)
        return row

    # -- what it looks like ---------------------------------------------------------------

    def render(self) -> RenderableType:
        """The header (pipeline and run id), a row per step, and the run's end once known."""
        with self._lock:
            now = self._clock()
            header = Text("waiting for the run to start", style="dim")
            if self.run_id:
                header = Text.assemble(
                    ("pipeline ", "dim"), (self.pipeline, "bold"), ("  run ", "dim"), self.run_id
                )
            table = Table(box=None, pad_edge=False)
            for column in ("step", "state", "attempt", "duration"):
                table.add_column(column, no_wrap=True)
            table.add_column("last line", overflow="ellipsis", no_wrap=True, ratio=1)
            for base, members in self._groups.items():
                shown, hidden = _visible(members, self.max_items)
                for row in shown:
                    table.add_row(
                        Text(row.step),
                        state_text("waiting" if row.waiting else row.state),
                        str(row.attempt or ""),
                        self._duration(row, now),
                        Text(self._line(row, now)),
                    )
                if hidden:
                    table.add_row(Text(f"{base}[…]", style="dim"), "", "", "", _tally(hidden))
            footer = self._footer()
            return Group(header, table, footer) if footer else Group(header, table)

    def elapsed_s(self) -> float | None:
        """How long the run took (so far)."""
        if self._started is None:
            return None
        return (self._finished if self._finished is not None else self._clock()) - self._started

    def _footer(self) -> Text | None:
        if self.state is None:
            return None
        took = self.elapsed_s() or 0.0
        return Text.assemble(state_text(self.state), f" in {format_duration(took)}")

    @staticmethod
    def _duration(row: StepRow, now: float) -> str:
        if row.duration_s is not None:
            return format_duration(row.duration_s)
        return "" if row.started is None else format_duration(now - row.started)

    @staticmethod
    def _line(row: StepRow, now: float) -> str:
        if row.state == "retrying" and row.retry_at is not None:
            left = max(0.0, row.retry_delay_s - (now - row.retry_at))
            return (
                f"attempt {row.attempt} failed ({row.retry_reason}); "
                f"next in {format_duration(left)}"
            )
        return row.line


# -- following a run on the bus ----------------------------------------------------------


@contextmanager
def follow_run(
    engine: Engine,
    correlation_id: str | None,
    *,
    json_lines: bool,
    console: Console | None = None,
    clock: Clock = time.monotonic,
    refresh_per_second: float = 8.0,
) -> Iterator[RunView]:
    """Show the run of ``correlation_id`` while the body runs it; yields its :class:`RunView`
    (whose ``state`` is the run's once it finished).

    ``None`` follows the first run that starts meanwhile (for a caller that cannot know the
    id in advance). With ``json_lines`` each event is one JSON object on stdout; otherwise a
    live table on ``console`` if it is a terminal, else one plain line per finished step.
    """
    out = console or stdout_console()
    view = RunView(clock=clock)
    live = not json_lines and out.is_terminal
    say: Callable[[Event], None] = (
        _json_line if json_lines else (lambda _: None) if live else _PlainLines(view, out)
    )
    follower = _Follower(view, correlation_id, say)
    kinds: tuple[type[Event], ...] = (*RUN_EVENTS, ApprovalRequested, ApprovalDecided)
    unsubscribes = [engine.events.subscribe(kind, follower.on_event) for kind in kinds]
    try:
        if live:
            with Live(
                console=out,
                get_renderable=view.render,
                transient=False,
                refresh_per_second=refresh_per_second,
            ):
                yield view
        else:
            yield view
    finally:
        for unsubscribe in unsubscribes:
            unsubscribe()


class _Follower:
    """Lets through the events of one run (and the approvals its steps wait for)."""

    def __init__(self, view: RunView, correlation_id: str | None, say: Callable[[Event], None]):
        self.view, self.correlation_id, self.say = view, correlation_id, say
        self.run_id: str | None = None
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, ApprovalRequested | ApprovalDecided):
                if self.run_id is not None and self.view.feed(event):
                    self.say(event)
            elif self._ours(event):
                self.view.feed(event)
                self.say(event)

    def _ours(self, event: Event) -> bool:
        if self.correlation_id is None and isinstance(event, PipelineRunStarted):
            self.correlation_id = event.correlation_id
        if event.correlation_id != self.correlation_id:
            return False
        run_id = getattr(event, "run_id", None)
        if self.run_id is None and isinstance(event, PipelineRunStarted):
            self.run_id = run_id
        return run_id == self.run_id


def _json_line(event: Event) -> None:
    if isinstance(event, ApprovalRequested):  # not a run event: said to the person, as ever
        print(
            f"Approval ticket {event.ticket_id} opened for {event.command}. If it waits, "
            f"another approver can run: logomesh approvals approve {event.ticket_id}",
            file=sys.stderr,
            flush=True,
        )
    elif not isinstance(event, ApprovalDecided):
        sys.stdout.write(json.dumps(event_dict(event), ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()


class _PlainLines:
    """For a log or a pipe: the run's start, each finished step, any wait, the end."""

    def __init__(self, view: RunView, out: Console) -> None:
        self.view, self.out = view, out

    def __call__(self, event: Event) -> None:
        view = self.view
        head = f"pipeline {view.pipeline}: run {view.run_id}"
        if isinstance(event, PipelineRunStarted):
            count = f" ({plural(len(event.steps), 'step')})" if event.steps else ""
            self._say(f"{head} started{count}")
        elif isinstance(event, StepFinished):
            row = view.rows[event.step]
            took = "" if row.duration_s is None else f" in {format_duration(row.duration_s)}"
            tries = f" after {row.attempt} attempts" if row.attempt > 1 else ""
            self._say(
                f"{row.step}  {row.state}{tries}{took}" + (f": {row.line}" if row.line else "")
            )
        elif isinstance(event, ApprovalRequested | ApprovalDecided):
            step = view.step_of_ticket(event.ticket_id)
            if step is not None:  # what the step's row now says of its wait
                self._say(f"{step}  {view.rows[step].line}")
        elif isinstance(event, PipelineRunFinished):
            self._say(f"{head} {event.state} in {format_duration(view.elapsed_s() or 0.0)}")

    def _say(self, line: str) -> None:
        self.out.print(Text(line), soft_wrap=True)
        self.out.file.flush()


def _visible(members: list[StepRow], most: int) -> tuple[list[StepRow], list[StepRow]]:
    """A step's rows to show, and those to count: of a large ``for_each``, the items that
    are busy or went wrong (up to ``most``), so a table of 10,000 items stays readable."""
    items = [row for row in members if "[" in row.step]
    if len(items) <= most:
        return members, []
    notable = [row for row in items if row.state not in ("pending", "succeeded", "skipped")]
    shown = {id(row) for row in notable[:most]}
    keep = [row for row in members if "[" not in row.step or id(row) in shown]
    return keep, [row for row in items if id(row) not in shown]


def _tally(rows: list[StepRow]) -> Text:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    said = ", ".join(f"{count:,} {state}" for state, count in counts.items())
    return Text(f"{len(rows):,} more items: {said}", style="dim")


def _last_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else ""
