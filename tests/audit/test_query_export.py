"""``audit.query`` filters and ``audit.export`` files, through the engine's one door."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logomesh.audit.chain import ChainWalk, record_hash
from logomesh.audit.models import HASHED_FIELDS, AuditEntry, AuditRecord
from logomesh.canonical import format_timestamp
from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine

# (actor, source, action, outcome, age)
HISTORY = [
    ("alice", Source.CLI, "db.backup", Outcome.OK, timedelta(days=3)),
    ("bob", Source.SLACK, "audit.query", Outcome.OK, timedelta(hours=5)),
    ("alice", Source.LSP, "audit.verify", Outcome.ERROR, timedelta(hours=2)),
    ("carol", Source.DISCORD, "db.restore", Outcome.DENIED, timedelta(minutes=30)),
    ("bob", Source.SLACK, "dbxbackup", Outcome.OK, timedelta(minutes=10)),
    ("alice", Source.CLI, "db_backup", Outcome.CANCELLED, timedelta(minutes=1)),
]


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def history(engine: Engine, now: datetime) -> list[AuditRecord]:
    """Six records from several people, adapters and times, oldest first."""
    return engine.audit.record_many(
        [
            AuditEntry(
                actor=actor,
                source=source,
                action=action,
                outcome=outcome,
                timestamp=now - age,
                arguments={"step": n},
            )
            for n, (actor, source, action, outcome, age) in enumerate(HISTORY)
        ]
    )


def _steps(result: CommandResult) -> list[int]:
    assert result.ok, result.message
    return [row["arguments"]["step"] for row in result.data if "step" in row["arguments"]]


@pytest.mark.parametrize(
    ("filters", "steps"),
    [
        ({"actor": "alice"}, [5, 2, 0]),
        ({"actor": "nobody"}, []),
        ({"action": "db.backup"}, [0]),
        ({"action": "audit.*"}, [2, 1]),
        ({"action": "db*"}, [5, 4, 3, 0]),
        ({"action": "db_*"}, [5]),  # `_` is literal, not SQL's any-character
        ({"action": "*.re*"}, [3]),
        ({"source": "slack"}, [4, 1]),
        ({"outcome": "denied"}, [3]),
        ({"outcome": "error", "source": "lsp"}, [2]),
        ({"actor": "alice", "outcome": "ok"}, [0]),
        ({"since": "1h"}, [5, 4, 3]),
        ({"since": "90m"}, [5, 4, 3]),
        ({"since": "1d", "until": "20min"}, [3, 2, 1]),
        ({"since": "0.75h"}, [5, 4, 3]),
        ({"until": "1w"}, []),
        ({"limit": 2, "actor": "alice"}, [5, 2]),
    ],
)
def test_query_filters(
    history: list[AuditRecord],
    run: Callable[..., CommandResult],
    filters: dict[str, object],
    steps: list[int],
) -> None:
    """Each filter, alone and combined, returns exactly the matching records, newest first."""
    assert _steps(run("audit.query", **filters)) == steps


def test_query_with_iso_times(
    history: list[AuditRecord], run: Callable[..., CommandResult], now: datetime
) -> None:
    """since/until accept ISO 8601 with Z, with an offset, or naive (taken as UTC)."""
    since = format_timestamp(now - timedelta(hours=6))  # ...Z
    until = (now - timedelta(minutes=20)).astimezone().isoformat()  # local offset
    assert _steps(run("audit.query", since=since, until=until)) == [3, 2, 1]
    naive = (now - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert _steps(run("audit.query", since=naive)) == [5, 4, 3]
    assert _steps(run("audit.query", until=(now - timedelta(days=2)).date().isoformat())) == [0]


def test_query_default_limit_and_order(engine: Engine, run: Callable[..., CommandResult]) -> None:
    """Without a limit, 20 records come back, newest first, as JSON-ready dicts."""
    engine.audit.store.append_many(
        [
            AuditEntry(actor="x", source=Source.CLI, action="t", outcome=Outcome.OK)
            for _ in range(30)
        ]
    )
    result = run("audit.query", actor="x")
    seqs = [row["seq"] for row in result.data]
    assert seqs == list(range(30, 10, -1))
    json.dumps(result.data)


def test_query_can_include_payloads(engine: Engine, run: Callable[..., CommandResult]) -> None:
    """payloads=true adds the stored texts; pruned ones are marked, not hidden."""
    engine.audit.record(
        AuditEntry(
            actor="llm",
            source=Source.SYSTEM,
            action="llm.complete",
            outcome=Outcome.OK,
            prompt="why is the build red",
            response="a flaky test",
        )
    )
    [row] = run("audit.query", actor="llm", payloads=True).data
    assert (row["prompt"], row["response"]) == ("why is the build red", "a flaky test")
    assert run("audit.prune", confirmed=True, payloads_older_than="0s").ok
    [row] = run("audit.query", actor="llm", payloads=True).data
    assert row["prompt"] == row["response"] == "[pruned]"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "5 parsecs"}, "since"),
        ({"until": "-2h"}, "until"),
    ],
)
def test_bad_time_strings_are_explained(
    history: list[AuditRecord],
    run: Callable[..., CommandResult],
    arguments: dict[str, str],
    field: str,
) -> None:
    """A time that parses as neither ISO nor an age names the argument and shows examples."""
    result = run("audit.query", **arguments)
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert result.error.code == "command.invalid_arguments"
    assert f"`{field}`" in result.error.message
    assert repr(arguments[field]) in result.error.message
    assert "2h" in result.error.message and "ISO" in result.error.message
    assert "Traceback" not in result.error.message


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"limit": 0}, "limit"), ({"source": "telegram"}, "source"), ({"outcome": "meh"}, "outcome")],
)
def test_bad_filter_values_are_explained(
    run: Callable[..., CommandResult], arguments: dict[str, object], field: str
) -> None:
    """Out-of-range limits and unknown sources or outcomes are refused, naming the field."""
    result = run("audit.query", **arguments)
    assert result.error is not None
    assert result.error.code == "command.invalid_arguments"
    assert f"`{field}`" in result.error.message


def _exported_count(engine: Engine) -> int:
    # The export command's own record is written after the file, so it is not in it.
    return engine.audit.store.head().seq - 1


def test_export_jsonl_holds_every_record_verifiably(
    engine: Engine, history: list[AuditRecord], run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """Every record is exported in chain order, and the file alone re-verifies the chain."""
    run("status")
    path = tmp_path / "trail.jsonl"
    result = run("audit.export", path=str(path))
    assert result.ok, result.message
    lines = path.read_text(encoding="utf-8").splitlines()
    assert result.data["records"] == len(lines) == _exported_count(engine) == 7

    rows = [json.loads(line) for line in lines]
    assert [row["seq"] for row in rows] == list(range(1, 8))
    assert rows[0]["id"] == history[0].id
    records = [AuditRecord(**row) for row in rows]
    walk = ChainWalk()
    walk.feed(records)
    assert walk.first_break is None
    assert all(record_hash(r.hashed_content()) == r.hash for r in records)
    assert not path.with_name(path.name + ".partial").exists()


def test_export_csv_holds_every_record(
    engine: Engine, history: list[AuditRecord], run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """The CSV has a header of every hashed field plus the hash, and one row per record."""
    path = tmp_path / "trail.csv"
    result = run("audit.export", path=str(path), format="csv")
    assert result.ok, result.message
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [*HASHED_FIELDS, "hash"]
    assert len(rows) == result.data["records"] == _exported_count(engine) == 6
    assert [row["actor"] for row in rows] == [h[0] for h in HISTORY]
    assert json.loads(rows[0]["arguments"]) == {"step": 0}
    assert [row["hash"] for row in rows] == [r.hash for r in history]


def test_export_refuses_to_overwrite(
    history: list[AuditRecord], run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """An existing file is left alone unless overwrite=true is given."""
    path = tmp_path / "precious.jsonl"
    path.write_text("do not lose me\n")
    result = run("audit.export", path=str(path))
    assert result.error is not None
    assert result.error.code == "command.invalid_arguments"
    assert "already exists" in result.error.message and "overwrite" in result.error.message
    assert path.read_text() == "do not lose me\n"

    result = run("audit.export", path=str(path), overwrite=True)
    assert result.ok
    assert len(path.read_text().splitlines()) == result.data["records"]


def test_export_rejects_unknown_formats(run: Callable[..., CommandResult], tmp_path: Path) -> None:
    """Only jsonl and csv exist; anything else is an argument error, and no file appears."""
    path = tmp_path / "trail.xml"
    result = run("audit.export", path=str(path), format="xml")
    assert result.error is not None and "`format`" in result.error.message
    assert not path.exists()
