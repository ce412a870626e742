"""Pipeline runs and their steps in the database (migration 0004), for ``pipeline runs``,
``show``, ``cancel`` and ``rerun``, from any process sharing the database.

What is kept is redacted first (inputs and step outputs may hold a token a step printed):
the run's state and timings, the digest of the file it ran, who started it, and each step's
state, attempts, outcome and audit record. A run records the host and process running it
(with the process's start time, since pids are reused), so one whose process died shows as
``interrupted`` instead of running forever. A cancel asked from another process is a column
the running process reads: no signal crosses processes, and it works on any dialect. The
request is announced on the change feed in the same transaction, so on PostgreSQL the
running process reads it the moment it commits rather than at its next poll.

These methods block (they are SQLAlchemy calls); the executor runs them off the event loop.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil
from sqlalchemy import RowMapping, bindparam, func, insert, select, update

from logomesh.canonical import canonical_json, format_timestamp
from logomesh.errors import PipelineRunNotFoundError
from logomesh.pipelines.states import FINISHED_STEP, RunState, StepState
from logomesh.security.redaction import redact
from logomesh.storage.change_feed import RUNS, ChangeFeed, PollingFeed
from logomesh.storage.database import Database
from logomesh.storage.tables import pipeline_runs, pipeline_steps


@dataclass(frozen=True, slots=True)
class StepRecord:
    step_id: str
    item: int
    command: str
    state: StepState
    attempts: int
    started_at: str | None
    finished_at: str | None
    outcome: str | None
    output: Any
    error: str | None
    audit_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**_fields(self), "state": str(self.state)}


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    pipeline: str
    digest: str
    correlation_id: str
    actor: str
    inputs: dict[str, Any]
    state: RunState
    started_at: str
    finished_at: str | None
    error: str | None
    cancel_requested: bool
    steps: tuple[StepRecord, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            **_fields(self),
            "state": str(self.state),
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass(frozen=True, slots=True)
class Runner:
    """The process running a run: how another process tells whether it is still alive."""

    host: str
    pid: int
    started_at: float

    @classmethod
    def this_process(cls) -> Runner:
        return cls(socket.gethostname(), os.getpid(), psutil.Process().create_time())

    def alive(self) -> bool:
        """False only when it is known gone: on this host, no such process (or another one
        with its pid). A run on another host is taken to be alive."""
        if self.host != socket.gethostname():
            return True
        try:
            started: float = psutil.Process(self.pid).create_time()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False
        except psutil.Error:
            return True
        return abs(started - self.started_at) < 1.0  # another process reusing its pid: gone


@dataclass(frozen=True, slots=True)
class StepUpdate:
    """A step's row as it is now (one of ``for_each``'s items when ``item`` > 0), stamped
    when the change happened, not when a batch of them is written."""

    step_id: str
    item: int
    command: str
    state: StepState
    attempts: int
    outcome: str | None = None
    output: Any = None
    error: str | None = None
    audit_id: str | None = None
    at: str = field(default_factory=lambda: now_text())

    @property
    def key(self) -> tuple[str, int]:
        return self.step_id, self.item

    def values(self) -> dict[str, Any]:
        """The columns to write, redacted: a step's output may hold a token it printed."""
        started = self.state is StepState.RUNNING and self.attempts <= 1
        return {
            "command": self.command,
            "state": str(self.state),
            "attempts": self.attempts,
            "outcome": self.outcome,
            "output": None if self.output is None else canonical_json(redact(self.output)),
            "error": None if self.error is None else str(redact(self.error)),
            "audit_id": self.audit_id,
            "started_at": self.at if started else None,
            "finished_at": self.at if self.state in FINISHED_STEP else None,
        }


def _coalesce(updates: list[StepUpdate]) -> dict[tuple[str, int], dict[str, Any]]:
    """Each step's last state in a batch, keeping when it first started (only the last is
    redacted and serialised: a step that started and finished within a batch costs one)."""
    last: dict[tuple[str, int], StepUpdate] = {}
    started: dict[tuple[str, int], str] = {}
    for change in updates:
        last[change.key] = change
        if change.state is StepState.RUNNING and change.attempts <= 1:
            started.setdefault(change.key, change.at)
    rows = {}
    for key, change in last.items():
        values = change.values()
        values["started_at"] = values["started_at"] or started.get(key)
        rows[key] = values
    return rows


def now_text() -> str:
    return format_timestamp(datetime.now(UTC))


_c = pipeline_steps.c
# One statement for every known step of a batch; a start time, once set, stays.
_UPDATE_STEP = (
    update(pipeline_steps)
    .where((_c.run_id == bindparam("b_run")) & (_c.step_id == bindparam("b_step"))
           & (_c.item == bindparam("b_item")))
    .values(
        command=bindparam("b_command"), state=bindparam("b_state"),
        attempts=bindparam("b_attempts"), outcome=bindparam("b_outcome"),
        output=bindparam("b_output"), error=bindparam("b_error"),
        audit_id=bindparam("b_audit_id"),
        started_at=func.coalesce(_c.started_at, bindparam("b_started_at")),
        finished_at=bindparam("b_finished_at"),
    )
)  # fmt: skip


class RunStore:
    """The runs and steps of one database."""

    def __init__(
        self,
        db: Database,
        *,
        prepare: Callable[[], None] | None = None,
        feed: ChangeFeed | None = None,
    ) -> None:
        self.db = db
        self._prepare = prepare or (lambda: None)  # readies the schema (the engine's)
        self.feed: ChangeFeed = feed or PollingFeed()  # wakes a run asked to cancel

    # -- writing (the running process) --------------------------------------------------

    def start_run(
        self,
        run_id: str,
        pipeline: str,
        digest: str,
        *,
        correlation_id: str,
        actor: str,
        inputs: dict[str, Any],
        runner: Runner | None = None,
    ) -> None:
        runner = runner or Runner.this_process()
        self._prepare()
        row = {
            "id": run_id,
            "pipeline": pipeline,
            "digest": digest,
            "correlation_id": correlation_id,
            "actor": actor,
            "inputs": canonical_json(redact(inputs)),
            "state": str(RunState.RUNNING),
            "started_at": now_text(),
            "host": runner.host,
            "pid": runner.pid,
            "pid_started_at": runner.started_at,
        }
        with self.db.transaction() as conn:
            conn.execute(insert(pipeline_runs), row)

    def record_step(
        self,
        run_id: str,
        step_id: str,
        *,
        item: int = 0,
        command: str,
        state: StepState,
        attempts: int,
        outcome: str | None = None,
        output: Any = None,
        error: str | None = None,
        audit_id: str | None = None,
    ) -> None:
        """Insert or update one step's row (its first record inserts it)."""
        update_ = StepUpdate(step_id, item, command, state, attempts, outcome, output, error,
                             audit_id)  # fmt: skip
        self.record_steps(run_id, [update_])

    def record_steps(self, run_id: str, updates: list[StepUpdate]) -> None:
        """Several steps' changes in one transaction (a run's recorder batches them): the
        last state of each, new rows inserted and known ones updated, each in one
        ``executemany``, since compiling a statement per row would cost more than the SQL."""
        if not updates:
            return
        self._prepare()
        rows = _coalesce(updates)
        ids = {step_id for step_id, _ in rows}
        with self.db.transaction() as conn:
            known = conn.execute(
                select(pipeline_steps.c.step_id, pipeline_steps.c.item).where(
                    (pipeline_steps.c.run_id == run_id) & pipeline_steps.c.step_id.in_(ids)
                )
            ).all()
            present = {(step_id, item) for step_id, item in known}
            fresh = [{"run_id": run_id, "step_id": key[0], "item": key[1], **values}
                     for key, values in rows.items() if key not in present]  # fmt: skip
            if fresh:
                conn.execute(insert(pipeline_steps), fresh)
            changed = [{"b_run": run_id, "b_step": key[0], "b_item": key[1],
                        **{f"b_{name}": value for name, value in values.items()}}
                       for key, values in rows.items() if key in present]  # fmt: skip
            if changed:
                conn.execute(_UPDATE_STEP, changed)

    def finish_run(self, run_id: str, state: RunState, error: str | None = None) -> None:
        self._prepare()
        statement = (
            update(pipeline_runs)
            .where(pipeline_runs.c.id == run_id)
            .values(state=str(state), finished_at=now_text(),
                    error=None if error is None else str(redact(error)))
        )  # fmt: skip
        with self.db.transaction() as conn:
            conn.execute(statement)

    # -- cancelling (any process) ---------------------------------------------------------

    def request_cancel(self, run_id: str) -> RunRecord:
        """Ask the process running ``run_id`` to cancel it; the run as it is now."""
        run = self.get(run_id)
        if run.state is RunState.RUNNING and not run.cancel_requested:
            with self.db.transaction() as conn:
                conn.execute(
                    update(pipeline_runs)
                    .where(pipeline_runs.c.id == run_id)
                    .values(cancel_requested_at=now_text())
                )
                self.feed.announce(conn, RUNS, run_id)
        return self.get(run_id)

    def cancel_requested(self, run_id: str) -> bool:
        self._prepare()
        with self.db.read() as conn:
            stamp: str | None = conn.execute(
                select(pipeline_runs.c.cancel_requested_at).where(pipeline_runs.c.id == run_id)
            ).scalar_one_or_none()
        return stamp is not None

    # -- reading --------------------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord:
        self._prepare()
        with self.db.read() as conn:
            row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
            if row is None:
                raise PipelineRunNotFoundError(
                    f"No pipeline run {run_id!r}. `logomesh pipeline runs` lists them."
                )
            steps = conn.execute(
                select(pipeline_steps)
                .where(pipeline_steps.c.run_id == run_id)
                .order_by(pipeline_steps.c.started_at, pipeline_steps.c.step_id,
                          pipeline_steps.c.item)
            ).mappings().all()  # fmt: skip
        run = _run(row._mapping)
        return RunRecord(**{**_fields(run), "steps": tuple(_step(s) for s in steps)})

    def runs(self, pipeline: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest runs first (without their steps)."""
        self._prepare()
        query = select(pipeline_runs).order_by(pipeline_runs.c.started_at.desc()).limit(limit)
        if pipeline is not None:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        with self.db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [_run(row) for row in rows]


def _run(row: RowMapping) -> RunRecord:
    state = RunState(row["state"])
    runner = Runner(row["host"], row["pid"], row["pid_started_at"])
    if state is RunState.RUNNING and not runner.alive():
        state = RunState.INTERRUPTED
    return RunRecord(
        id=row["id"],
        pipeline=row["pipeline"],
        digest=row["digest"],
        correlation_id=row["correlation_id"],
        actor=row["actor"],
        inputs=json.loads(row["inputs"]),
        state=state,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        cancel_requested=row["cancel_requested_at"] is not None,
    )


def _step(row: RowMapping) -> StepRecord:
    return StepRecord(
        step_id=row["step_id"],
        item=row["item"],
        command=row["command"],
        state=StepState(row["state"]),
        attempts=row["attempts"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=row["outcome"],
        output=None if row["output"] is None else json.loads(row["output"]),
        error=row["error"],
        audit_id=row["audit_id"],
    )


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
