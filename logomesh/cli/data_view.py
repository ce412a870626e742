"""How a result's data reads when no table was made for its command: the generic rule.

Commands (built-in and plugins' MCP tools alike) return JSON-shaped data, and a person
should not have to read JSON in a table cell. So the shape decides the view:

- a list of flat records (dicts) is a table, one column per key, in first-seen order;
- a dict shows its scalar fields (but None) as key/value rows (a nested dict as
  ``key.sub`` rows, a list of scalars as a comma list), then each list of records as a
  table under its key, then each multi-line text (a patch, a file, a draft) as plain
  text under its key;
- a list of scalars is one line per item.

On a terminal, table cells that do not fit are cut with an ellipsis (the whole value is in
``--json``); piped, nothing is cut or wrapped (see :func:`logomesh.cli.render.console`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Columns worth a person's width, for record lists of known commands (``--json`` has all).
# Every other record list shows every key.
PREFERRED_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("git.log", "commits"): ("short", "date", "author", "subject"),
    ("git.branches", "branches"): ("name", "current", "commit", "upstream", "subject"),
    ("todos.find", "notes"): ("file", "line", "kind", "assignee", "author", "age_days", "text"),
    ("announcements.list", "announcements"): ("at", "source", "commits", "draft"),
}

# Fields a known command's message already says in words (``--json`` still has them).
SAID_IN_MESSAGE: dict[str, frozenset[str]] = {
    "git.log": frozenset({"since"}),  # "2 commits on HEAD since main: 3 files changed, +3 -0."
}


# An ISO 8601 time as git and the audit trail write it (2026-12-02T15:59:51+00:00).
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def data_view(command: str, data: Any, *, width: int | None) -> RenderableType | None:
    """The renderable for ``data``, or None when there is nothing worth showing."""
    if is_records(data):
        return records_table(data, PREFERRED_COLUMNS.get((command, "")), width=width)
    if isinstance(data, list) and data:
        return Text("\n".join(f"- {_scalar(item)}" for item in data))
    if isinstance(data, dict) and data:
        return _dict_view(command, data, width=width)
    return None


def is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def records_table(
    rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None, *, width: int | None
) -> Table:
    """One row per record; columns that are empty in every row are left out."""
    if columns is None:
        columns = tuple(dict.fromkeys(key for row in rows for key in row))
    shown = [c for c in columns if any(row.get(c) not in (None, "", [], {}) for row in rows)]
    cells = [[cell(row.get(column)) for column in shown] for row in rows]
    natural = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(shown)]
    widths = natural if width is None else fit_widths(natural, width)
    table = Table(box=None, pad_edge=False)
    for column, column_width in zip(shown, widths, strict=True):
        # A terminal gets one line per record; a long value ends in "…" there.
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=column_width)
    for line in cells:
        table.add_row(*(escape(value) for value in line))
    return table


# A cut column keeps this much when it can (a path, a name), and a few characters always.
_KEPT, _NARROWEST = 20, 6


def fit_widths(natural: list[int], width: int) -> list[int]:
    """Column widths that fit ``width``, taken from the widest columns first, so short
    columns (a hash, a line number, a date) stay whole and a subject or a text is cut."""
    widths = list(natural)
    excess = sum(widths) + 2 * (len(widths) - 1) - width  # two spaces between columns
    for keep in (_KEPT, _NARROWEST):
        floors = [min(w, keep) for w in natural]
        while excess > 0:
            room = [w - f for w, f in zip(widths, floors, strict=True)]
            widest = max(range(len(widths)), key=widths.__getitem__)
            if room[widest] <= 0:
                widest = max(range(len(widths)), key=room.__getitem__)
                if room[widest] <= 0:
                    break  # this floor is reached everywhere
            others = [w for i, w in enumerate(widths) if i != widest]
            level = max(max(others, default=0), floors[widest])
            cut = min(excess, max(widths[widest] - level, 1), room[widest])
            widths[widest] -= cut
            excess -= cut
    return widths


def _dict_view(command: str, data: dict[str, Any], *, width: int | None) -> RenderableType | None:
    pairs: list[tuple[str, str]] = []
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    texts: list[tuple[str, str]] = []
    said = SAID_IN_MESSAGE.get(command, frozenset())
    for key, value in data.items():
        if key == "summary" or value is None or key in said:
            continue  # plugins repeat their message in a summary; None is nothing to read
        if is_records(value):
            tables.append((key, value))
        elif isinstance(value, str) and "\n" in value:
            texts.append((key, value))
        elif isinstance(value, dict) and value:
            pairs.extend((f"{key}.{sub}", cell(item)) for sub, item in value.items())
        else:
            pairs.append((key, cell(value, empty="none" if isinstance(value, list) else "")))
    parts: list[RenderableType] = []
    if pairs:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for key, value in pairs:
            table.add_row(escape(key), escape(value))
        parts.append(table)
    # A lone list of records (git.log's commits, a plugin's notes) needs no heading.
    headed = bool(pairs) or len(tables) + len(texts) > 1
    for key, rows in tables:
        if headed:
            parts.append(Text(f"\n{key}:", style="bold"))
        columns = PREFERRED_COLUMNS.get((command, key))
        parts.append(records_table(rows, columns, width=width))
    for key, text in texts:
        if headed:
            parts.append(Text(f"\n{key}:", style="bold"))
        parts.append(Text(text.rstrip("\n")))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Group(*parts)


def cell(value: Any, empty: str = "") -> str:
    """A value as one cell: scalars as text, lists of scalars as a comma list."""
    if isinstance(value, list):
        if not value:
            return empty
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(_scalar(item) for item in value)
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_scalar(item)}" for key, item in value.items())
    return _scalar(value)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        return value[:19].replace("T", " ")  # seconds are enough to read; --json has it all
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        # A record's text stays on its row: a newline inside it would break the table.
        return value.replace("\n", " ")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
