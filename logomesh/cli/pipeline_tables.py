"""The tables of ``pipeline runs``, ``show RUN`` and ``list``, from the plain dicts the
management commands return (``RunRecord.to_dict()``, ``StepRecord.to_dict()``, one dict per
pipeline file), and the look of a state that the live view shares.

Everything a run or a file says (step ids, errors, descriptions) is shown as text, never
read as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from logomesh.canonical import parse_timestamp

# state -> (symbol, style); the states are the executor's StepState and RunState values.
_LOOK = {
    "pending": ("○", "dim"),
    "running": ("●", "cyan"),
    "retrying": ("↻", "yellow"),
    "waiting": ("◷", "magenta"),  # for an approval (the view's, not a stored state)
    "succeeded": ("✔", "green"),
    "failed": ("✘", "red"),
    "skipped": ("-", "dim"),
    "cancelled": ("⊘", "yellow"),
    "interrupted": ("!", "magenta"),
}


def render_runs(
    rows: Sequence[Mapping[str, Any]], *, now: datetime | None = None
) -> RenderableType:
    """``pipeline runs``: the dicts of ``RunRecord.to_dict()``, newest first."""
    if not rows:
        return Text("No pipeline runs yet: `logomesh pipeline run NAME` starts one.")
    table = Table(box=None, pad_edge=False)
    for column in ("id", "pipeline", "state", "started", "duration", "actor"):
        table.add_column(column, no_wrap=column != "pipeline")
    for run in rows:
        table.add_row(
            Text(str(run["id"])),
            Text(str(run["pipeline"])),
            state_text(run["state"], symbol=False),
            _time(run.get("started_at")),
            _took(run, now),
            Text(str(run.get("actor") or "")),
        )
    return table


def render_run(run: Mapping[str, Any], *, now: datetime | None = None) -> RenderableType:
    """``pipeline show RUN``: one ``RunRecord.to_dict()`` with its steps."""
    about = Table(show_header=False, box=None, pad_edge=False)
    about.add_column(style="bold")
    about.add_column(overflow="fold")
    facts: list[tuple[str, Any]] = [
        ("run", run["id"]),
        ("pipeline", run["pipeline"]),
        ("state", None),
        ("actor", run.get("actor")),
        ("started", _time(run.get("started_at"))),
        ("finished", _time(run.get("finished_at"))),
        ("duration", _took(run, now)),
        ("inputs", json.dumps(run.get("inputs") or {}, ensure_ascii=False, default=str)),
        ("correlation id", run.get("correlation_id")),
        ("file digest", run.get("digest")),
        ("error", run.get("error")),
        ("cancel", "requested" if run.get("cancel_requested") else None),
    ]
    for key, value in facts:
        if key == "state":
            about.add_row(key, state_text(run["state"], symbol=False))
        elif value:
            about.add_row(key, Text(str(value)))
    steps = list(run.get("steps") or [])
    numbered = {s["step_id"] for s in steps if s.get("item") or _count(steps, s["step_id"]) > 1}
    table = Table(box=None, pad_edge=False, title=Text("steps", style="bold"), title_justify="left")
    for column in ("step", "item", "state", "attempts", "started", "finished", "outcome"):
        table.add_column(column, no_wrap=True)
    table.add_column("error", overflow="fold", min_width=20, ratio=1)
    table.add_column("audit id", no_wrap=True)
    for step in steps:
        item = str(step.get("item", 0)) if step["step_id"] in numbered else ""
        table.add_row(
            Text(str(step["step_id"])),
            item,
            state_text(step["state"], symbol=False),
            str(step.get("attempts") or ""),
            _clock_time(step.get("started_at")),
            _clock_time(step.get("finished_at")),
            Text(str(step.get("outcome") or "")),
            Text(str(step.get("error") or ""), style="red"),
            Text(str(step.get("audit_id") or "")),
        )
    return Group(about, Text(""), table) if steps else about


def render_pipelines(rows: Sequence[Mapping[str, Any]]) -> RenderableType:
    """``pipeline list``: name, file, description, risk, input names, valid; then each
    problem of an invalid file on a line of its own (they name file:line:column)."""
    if not rows:
        return Text(
            "No pipelines found: put one in the workspace's pipelines/ (docs/pipelines.md)."
        )
    table = Table(box=None, pad_edge=False)
    for column in ("name", "file", "description", "risk", "inputs", "valid"):
        table.add_column(column, overflow="fold")
    problems: list[Text] = []
    for pipeline in rows:
        valid = bool(pipeline.get("valid"))
        table.add_row(
            Text(str(pipeline["name"])),
            Text(str(pipeline.get("file") or "")),
            Text(str(pipeline.get("description") or "")),
            str(pipeline.get("risk") or ""),
            Text(", ".join(pipeline.get("inputs") or ())),
            Text("yes" if valid else "no", style="green" if valid else "red"),
        )
        problems += [Text(str(problem), style="red") for problem in pipeline.get("problems") or ()]
    return Group(table, Text(""), *problems) if problems else table


# -- small shared pieces -----------------------------------------------------------------


def state_text(state: str, *, symbol: bool = True) -> Text:
    mark, style = _LOOK.get(state, ("?", ""))
    return Text(f"{mark} {state}" if symbol else state, style=style)


def format_duration(seconds: float) -> str:
    """Short and steady in a live table: 250ms, 3.2s, 1m05s, 2h03m."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _time(stamp: str | None) -> str:
    return "" if not stamp else stamp[:19].replace("T", " ")


def _clock_time(stamp: str | None) -> str:
    """A step's time of day (its run's header has the date)."""
    return _time(stamp)[11:]


def _took(record: Mapping[str, Any], now: datetime | None) -> str:
    started, finished = record.get("started_at"), record.get("finished_at")
    if not started:
        return ""
    if finished:
        return format_duration(
            (parse_timestamp(finished) - parse_timestamp(started)).total_seconds()
        )
    if record.get("state") != "running":
        return ""  # interrupted: how long is unknown
    so_far = ((now or datetime.now(UTC)) - parse_timestamp(started)).total_seconds()
    return f"{format_duration(so_far)} so far"


def _count(steps: Sequence[Mapping[str, Any]], step_id: str) -> int:
    return sum(1 for step in steps if step["step_id"] == step_id)
