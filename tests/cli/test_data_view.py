"""The generic view of a result's data (logomesh/cli/data_view.py), rendered by rich
into a string at a given width, the way the CLI prints it."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from logomesh.cli.data_view import data_view, fit_widths


def _shown(command: str, data: Any, width: int | None) -> list[str]:
    out = Console(file=io.StringIO(), width=width or 10_000, color_system=None)
    view = data_view(command, data, width=width)
    assert view is not None
    out.print(view)
    assert isinstance(out.file, io.StringIO)
    return [line.rstrip() for line in out.file.getvalue().splitlines()]


COMMITS = {
    "commits": [
        {"sha": "a" * 40, "short": "aaaaaaa", "author": "Ada", "email": "ada@example.com",
         "date": "2026-12-02T15:59:51+00:00", "subject": "x" * 120},
    ]
}  # fmt: skip


def test_a_lone_list_of_records_is_a_table_without_heading() -> None:
    lines = _shown("git.log", COMMITS, None)
    assert lines[0].split() == ["short", "date", "author", "subject"]
    assert lines[1] == f"aaaaaaa  2026-12-02 15:59:51  Ada     {'x' * 120}"


def test_on_a_terminal_the_long_column_is_cut_and_short_ones_stay() -> None:
    lines = _shown("git.log", COMMITS, 60)
    assert all(len(line) <= 60 for line in lines)
    assert lines[1].startswith("aaaaaaa  2026-12-02 15:59:51  Ada")
    assert lines[1].endswith("…")


def test_fit_widths_takes_from_the_widest_first() -> None:
    # A hash and a date stay whole; the subject is cut down to the next widest, then both.
    assert fit_widths([7, 19, 25, 120], 80) == [7, 19, 24, 24]
    assert fit_widths([7, 10], 80) == [7, 10]  # it fits: nothing cut
    assert fit_widths([50, 50, 50], 40) == [12, 12, 12]  # 36 and two gaps of 2


def test_unknown_records_show_every_key_and_drop_empty_columns() -> None:
    rows = [{"name": "a", "state": "ok", "error": None}, {"name": "b", "state": "bad"}]
    lines = _shown("x.list", rows, None)
    assert lines == ["name  state", "a     ok", "b     bad"]


def test_a_dict_has_rows_lists_headed_tables_and_text() -> None:
    data = {
        "summary": "said by the message",
        "clean": False,
        "upstream": None,
        "untracked": ["a.txt", "b.txt"],
        "conflicted": [],
        "limits": {"cpu": 2, "memory": "1 GB"},
        "changes": [{"path": "app.py", "staged": ".", "unstaged": "M"}],
        "patch": "line one\nline two\n",
    }
    lines = _shown("git.status", data, None)
    assert lines == [
        "clean          no",
        "untracked      a.txt, b.txt",
        "conflicted     none",
        "limits.cpu     2",
        "limits.memory  1 GB",
        "",
        "changes:",
        "path    staged  unstaged",
        "app.py  .       M",
        "",
        "patch:",
        "line one",
        "line two",
    ]


def test_a_list_of_names_is_one_per_line() -> None:
    assert _shown("x", ["a", "b"], None) == ["- a", "- b"]


def test_nothing_to_show() -> None:
    assert data_view("x", {}, width=None) is None
    assert data_view("x", [], width=None) is None
    assert data_view("x", None, width=None) is None
