"""How distributed work is doing: the workers alive, and per queue the jobs waiting, the
jobs running and how long the oldest has waited.

Read from procrastinate's own tables (its workers and their heartbeats, its jobs and their
events) in one read-only transaction; a worker is alive when its heartbeat is younger than
``workers.stalled_after_s``, the same figure the rescuers use to call it gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text

from logomesh.plural import plural

if TYPE_CHECKING:
    from logomesh.engine import Engine

_WORKERS = text(
    "SELECT id, EXTRACT(EPOCH FROM now() - last_heartbeat) FROM procrastinate_workers ORDER BY id"
)
# The oldest waiting job's age comes from its 'deferred' event (the job row has no time).
_QUEUES = text("""
SELECT j.queue_name,
       count(*) FILTER (WHERE j.status = 'todo'),
       count(*) FILTER (WHERE j.status = 'doing'),
       max(EXTRACT(EPOCH FROM now() - d.at)) FILTER (WHERE j.status = 'todo')
  FROM procrastinate_jobs j
  LEFT JOIN LATERAL (SELECT min(e.at) AS at FROM procrastinate_events e
                      WHERE e.job_id = j.id AND e.type = 'deferred') d ON true
 WHERE j.status IN ('todo', 'doing')
 GROUP BY j.queue_name ORDER BY j.queue_name
""")


@dataclass(frozen=True, slots=True)
class QueueFigures:
    name: str
    waiting: int
    running: int
    oldest_waiting_s: float | None


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    """The queue as a whole; ``workers``: (procrastinate's worker id, heartbeat age)."""

    workers: tuple[tuple[int, float], ...]
    queues: tuple[QueueFigures, ...]
    stalled_after_s: float

    @property
    def alive(self) -> int:
        return sum(1 for _, age in self.workers if age < self.stalled_after_s)

    @property
    def waiting(self) -> int:
        return sum(q.waiting for q in self.queues)

    @property
    def running(self) -> int:
        return sum(q.running for q in self.queues)

    @property
    def oldest_waiting_s(self) -> float | None:
        ages = [q.oldest_waiting_s for q in self.queues if q.oldest_waiting_s is not None]
        return max(ages, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers_alive": self.alive,
            "workers": [{"id": wid, "heartbeat_age_s": round(age, 3),
                         "alive": age < self.stalled_after_s} for wid, age in self.workers],
            "waiting": self.waiting,
            "running": self.running,
            "oldest_waiting_s": _rounded(self.oldest_waiting_s),
            "queues": [{"name": q.name, "waiting": q.waiting, "running": q.running,
                        "oldest_waiting_s": _rounded(q.oldest_waiting_s)} for q in self.queues],
        }  # fmt: skip

    def summary(self) -> str:
        oldest = self.oldest_waiting_s
        age = "" if oldest is None else f", the oldest waiting {oldest:.1f} s"
        return (f"{plural(self.alive, 'worker')} alive; {plural(self.waiting, 'job')} waiting, "
                f"{self.running} running{age}.")  # fmt: skip


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def read_figures(engine: Engine) -> WorkerFigures | None:
    """The figures, or None where there is no queue (SQLite; blocking: run it off the loop)."""
    if engine.database.dialect != "postgresql":
        return None
    engine.ensure_schema()
    with engine.database.read() as conn:
        if not inspect(conn).has_table("procrastinate_workers"):
            return None
        workers = tuple((int(w), float(age)) for w, age in conn.execute(_WORKERS))
        queues = tuple(QueueFigures(str(name), int(todo), int(doing),
                                    None if oldest is None else float(oldest))
                       for name, todo, doing, oldest in conn.execute(_QUEUES))  # fmt: skip
    return WorkerFigures(workers, queues, engine.settings.workers.stalled_after_s)
