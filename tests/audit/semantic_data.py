"""The trail that the semantic search tests search, and the model they share.

SQLite's and PostgreSQL's search tests read the same history, so "the same query on both
finds the same records" compares like with like.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from logomesh.audit.models import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.nl.embedder import Embedder

# (actor, source, action, arguments, outcome, error, age)
HISTORY: list[tuple[str, Source, str, dict[str, Any], Outcome, str | None, timedelta]] = [
    ("alice", Source.CLI, "db.restore", {"path": "/backups/nightly.db"}, Outcome.OK, None,
     timedelta(days=2)),
    ("bob", Source.SLACK, "status", {}, Outcome.OK, None, timedelta(hours=30)),
    ("carol", Source.CLI, "whoami", {}, Outcome.OK, None, timedelta(hours=20)),
    ("bob", Source.CLI, "config.show", {}, Outcome.OK, None, timedelta(hours=10)),
    ("dave", Source.LSP, "audit.verify", {}, Outcome.OK, None, timedelta(hours=5)),
    ("eve", Source.PIPELINE, "deploy.web", {"env": "prod"}, Outcome.ERROR,
     "[command.error] deploy failed: health check timed out", timedelta(hours=3)),
    ("eve", Source.PIPELINE, "deploy.web", {"env": "prod"}, Outcome.OK, None, timedelta(hours=2)),
    ("carol", Source.CLI, "db.upgrade", {}, Outcome.OK, None, timedelta(minutes=50)),
    ("bob", Source.SLACK, "commands.list", {}, Outcome.OK, None, timedelta(minutes=40)),
    ("alice", Source.SLACK, "db.backup", {"path": "before-upgrade.db"}, Outcome.OK, None,
     timedelta(minutes=30)),
    ("bob", Source.CLI, "db.downgrade", {"revision": "0001"}, Outcome.DENIED,
     "[command.denied] bob may not run db.downgrade", timedelta(minutes=20)),
    ("alice", Source.CLI, "audit.export", {"path": "audit.csv", "format": "csv"}, Outcome.OK,
     None, timedelta(minutes=10)),
]  # fmt: skip


@pytest.fixture(scope="session")
def shared_embedder() -> Embedder:
    """One model for the whole session: loading it takes seconds."""
    return Embedder()


def history_entries() -> list[AuditEntry]:
    now = datetime.now(UTC)
    return [
        AuditEntry(
            actor=actor,
            source=source,
            action=action,
            arguments=arguments,
            outcome=outcome,
            error=error,
            timestamp=now - age,
        )
        for actor, source, action, arguments, outcome, error, age in HISTORY
    ]


def unit_vector(seed: int) -> bytes:
    vector = np.random.default_rng(seed).standard_normal(384).astype("<f4")
    return (vector / np.linalg.norm(vector)).astype("<f4").tobytes()
