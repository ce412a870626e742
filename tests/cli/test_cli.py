"""End-to-end CLI tests: the real console script in a subprocess, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Run

CliFn = Callable[..., Run]


def test_help_lists_the_command_groups(cli: CliFn) -> None:
    """`logomesh --help` works and names every top-level command."""
    result = cli("--help")
    assert result.code == 0
    for name in ("init", "status", "run", "shell", "db", "audit", "config", "commands"):
        assert name in result.out


def test_init_is_idempotent_and_status_reports_json(cli: CliFn, workspace: Path) -> None:
    """init creates the workspace once; status --json is one JSON document."""
    first = cli("init", "--json")
    assert first.code == 0, first.err
    assert (workspace / "logomesh.toml").is_file()
    assert str(workspace / "logomesh.toml") in first.json()["data"]["created"]
    again = cli("init", "--json")
    assert again.code == 0
    assert again.json()["data"]["created"] == []
    status = cli("status", "--json").json()
    assert status["ok"] is True
    assert status["data"]["schema_up_to_date"] is True
    assert status["data"]["audit_records"] >= 2


def test_every_result_command_supports_json(cli: CliFn) -> None:
    """Each printing command prints exactly one parseable JSON document with --json."""
    cli("init")
    for args in (
        ("status",),
        ("whoami",),
        ("commands",),
        ("config", "show"),
        ("db", "status"),
        ("audit", "tail"),
        ("audit", "query", "--action", "status"),
        ("audit", "verify"),
        ("audit", "checkpoint"),
        ("run", "whoami"),
    ):
        result = cli(*args, "--json")
        assert result.code == 0, (args, result.err)
        assert result.json()["ok"] is True, args


def test_unknown_command_is_a_usage_error_with_a_suggestion(cli: CliFn) -> None:
    """A typo gets exit code 2 and a 'did you mean'."""
    result = cli("run", "statu")
    assert result.code == 2
    assert "Unknown command 'statu'" in result.err
    assert "status" in result.err


def test_wrong_argument_type_names_the_field(cli: CliFn) -> None:
    """limit=many is refused with the field, the expectation and the value."""
    result = cli("run", "audit.query", "limit=many", "--json")
    assert result.code == 2
    error = result.json()["error"]
    assert error["code"] == "command.invalid_arguments"
    assert "`limit`" in error["message"] and "'many'" in error["message"]


def test_malformed_argument_word_is_explained(cli: CliFn) -> None:
    result = cli("run", "audit.query", "limit")
    assert result.code == 2
    assert "key=value" in result.err


def test_readonly_mode_refuses_writes_and_audits_the_denial(cli: CliFn) -> None:
    """--mode readonly: db backup is denied (exit 3) and the denial is on record."""
    cli("init")
    denied = cli("--mode", "readonly", "db", "backup", "--json")
    assert denied.code == 3
    assert "readonly mode" in denied.json()["error"]["message"]
    records = cli("audit", "query", "--action", "db.backup", "--json").json()["data"]
    assert records[0]["outcome"] == "denied"
    assert records[0]["details"]["authorization"]["allowed"] is False


def test_danger_command_without_terminal_needs_yes(cli: CliFn, workspace: Path) -> None:
    """db restore asks first; with no terminal it is cancelled (exit 4) until --yes."""
    cli("init")
    backup = cli("db", "backup", "--json")
    assert backup.code == 0, backup.err
    path = backup.json()["data"]["path"]
    refused = cli("db", "restore", path)
    assert refused.code == 4
    assert "--yes" in refused.err
    restored = cli("db", "restore", path, "--yes", "--json")
    assert restored.code == 0, restored.err
    assert restored.json()["data"]["restored_from"] == path


def test_export_to_stdout_in_csv_and_jsonl(cli: CliFn) -> None:
    """audit export streams every record in chain order."""
    cli("init")
    cli("status")
    rows = list(csv.DictReader(io.StringIO(cli("audit", "export", "--format", "csv").out)))
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    lines = cli("audit", "export").out.splitlines()
    assert len(lines) >= len(rows)
    assert json.loads(lines[0])["action"] == "workspace.init"


def test_verify_exits_nonzero_after_tampering(cli: CliFn, workspace: Path) -> None:
    """A changed record makes `audit verify` fail and name the record."""
    cli("init")
    cli("status")
    assert cli("audit", "verify").code == 0
    conn = sqlite3.connect(workspace / ".logomesh" / "logomesh.db")
    conn.execute("DROP TRIGGER audit_records_no_update")
    conn.execute("UPDATE audit_records SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    conn.close()
    result = cli("audit", "verify", "--json")
    assert result.code == 1
    assert result.json()["data"]["first_bad_record"]["seq"] == 1


def test_config_show_masks_secrets_and_names_sources(cli: CliFn, workspace: Path) -> None:
    """A password in the database URL never reaches the screen; sources are named."""
    url = f"sqlite:///{workspace}/other.db"
    (workspace / "logomesh.toml").write_text('mode = "offline"\n')
    result = cli("config", "show", "--json", env={"LOGOMESH_DATABASE__URL": url})
    rows = {row["key"]: row for row in result.json()["data"]}
    assert rows["mode"]["value"] == "offline"
    assert rows["mode"]["source"].endswith("logomesh.toml:1")
    assert rows["database.url"]["source"] == "env LOGOMESH_DATABASE__URL"
    assert rows["llm.allow_network"] == {
        "key": "llm.allow_network",
        "value": False,
        "source": "mode:offline",
    }
    secret = cli("--db-url", "postgresql://bob:hunter2@db.example/lm", "config", "show", "--json")
    assert "hunter2" not in secret.out
    assert "hunter2" not in secret.err


def test_bad_config_file_is_named_with_its_line(cli: CliFn, workspace: Path) -> None:
    """A wrong type in logomesh.toml is reported with file, line and key; exit 2."""
    (workspace / "logomesh.toml").write_text('[database]\n\nbusy_timeout_ms = "soon"\n')
    result = cli("status")
    assert result.code == 2
    assert f"{workspace / 'logomesh.toml'}:3" in result.err
    assert "database.busy_timeout_ms" in result.err
    assert "Traceback" not in result.err


def test_corrupt_database_gets_a_clear_message(cli: CliFn, workspace: Path) -> None:
    """A garbage database file is named, with how to recover, and no traceback."""
    state = workspace / ".logomesh"
    state.mkdir()
    (state / "logomesh.db").write_bytes(b"this is not a database" * 200)
    result = cli("status")
    combined = result.out + result.err
    assert "logomesh.db" in combined
    assert "logomesh db restore" in combined
    assert "Traceback" not in combined


def test_shell_without_terminal_prints_status_and_exits_zero(cli: CliFn) -> None:
    """What `make run` does in CI: no TTY, so status is printed and the shell exits 0."""
    result = cli("shell")
    assert result.code == 0, result.err
    assert "LogoMesh 0.1.0" in result.out
