"""What a pipeline run tells the event bus, as it happens: the contract of every live view
(the CLI's table and its ``--json`` lines, the editor, the chat bots).

Each event carries the run's correlation id (that of the ``pipeline.NAME`` command that
started it, so a subscriber that knows the request it made can follow its run) and the
run's id (what ``pipeline show``/``cancel``/``rerun`` take). A step of a ``for_each`` is
named ``ID[N]``. :func:`event_dict` is the one JSON shape of each, with its ``event`` type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from logomesh.events import Event


@dataclass(frozen=True, slots=True)
class PipelineRunStarted(Event):
    run_id: str
    pipeline: str
    steps: tuple[str, ...] = ()  # every step id, in the file's order


@dataclass(frozen=True, slots=True)
class StepStarted(Event):
    run_id: str
    step: str
    command: str
    attempt: int


@dataclass(frozen=True, slots=True)
class StepRetrying(Event):
    run_id: str
    step: str
    attempt: int  # the attempt that failed
    delay_s: float
    reason: str  # "error" or "timeout"


@dataclass(frozen=True, slots=True)
class StepProgress(Event):
    """A step's command reported progress (its own ``CommandProgress``), re-said per step."""

    run_id: str
    step: str
    message: str
    fraction: float | None = None


@dataclass(frozen=True, slots=True)
class StepFinished(Event):
    run_id: str
    step: str
    state: str  # succeeded, failed, skipped or cancelled
    message: str
    attempts: int = 0
    duration_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class PipelineRunFinished(Event):
    run_id: str
    pipeline: str
    state: str  # succeeded, failed or cancelled


RUN_EVENTS: tuple[type[Event], ...] = (
    PipelineRunStarted,
    StepStarted,
    StepRetrying,
    StepProgress,
    StepFinished,
    PipelineRunFinished,
)

_NAMES = {
    PipelineRunStarted: "run_started",
    StepStarted: "step_started",
    StepRetrying: "step_retrying",
    StepProgress: "step_progress",
    StepFinished: "step_finished",
    PipelineRunFinished: "run_finished",
}


def event_dict(event: Event) -> dict[str, Any]:
    """One event as JSON: ``{"event": "step_started", "run_id": ..., ...}``."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    if isinstance(fields.get("steps"), tuple):
        fields["steps"] = list(fields["steps"])
    return {"event": _NAMES.get(type(event), type(event).__name__), **fields}
