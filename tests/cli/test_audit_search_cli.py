"""``logomesh audit search``: the real console script, the real model, a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.conftest import Run

CliFn = Callable[..., Run]


@pytest.mark.slow
def test_audit_search_finds_by_meaning_with_json_and_a_scored_table(cli: CliFn) -> None:
    """One process embeds the records written by the ones before it, then ranks them."""
    assert cli("init").code == 0
    assert cli("db", "backup", "--json").code == 0
    assert cli("whoami").code == 0
    found = cli("audit", "search", "who took a database backup", "--limit", "3", "--json")
    assert found.code == 0, found.err
    document = found.json()
    assert document["ok"] is True
    top = document["data"][0]
    assert top["action"] == "db.backup" and 0 < top["score"] <= 1
    table = cli("audit", "search", "database backup", "--source", "cli", "-n", "2")
    assert table.code == 0, table.err
    header = table.out.splitlines()[0].split()
    assert header[:3] == ["score", "#", "time"]
    assert "db.backup" in table.out
    empty = cli("audit", "search", "   ")
    assert empty.code == 2 and "say what to look for" in empty.err
