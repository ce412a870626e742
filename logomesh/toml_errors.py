"""What a TOML syntax error means, said for the person editing the file.

tomllib reports where its parser stopped, in its own words, and that place is often not
where the mistake is: ``[audit`` without its ``]``, in a file that already has an
``[audit]`` table, is reported as "Cannot declare ('audit',) twice"; a string left open
before the end of its line is "Illegal character '\\n'"; an array never closed is an error
"at end of document". Every TOML file LogoMesh reads (``logomesh.toml``, the user config,
a plugin manifest) goes through :func:`explain_toml_error`, which names the file, the line
and the column, shows the line, and says what to write instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = re.compile(r"\s*\(at end of document\)$")
_TWICE = re.compile(r"^Cannot declare \((.*)\) twice$")


@dataclass(frozen=True)
class TomlPosition:
    """Where a mistake is: 1-based line and column, and that line's text."""

    line: int
    column: int
    text: str


def explain_toml_error(
    path: Path,
    source: str,
    exc: tomllib.TOMLDecodeError,
    *,
    fix: str = "Fix it there, or move the file away to use the defaults.",
) -> str:
    """``path, line L, column C: not valid TOML: <what is wrong>``, the line, then ``fix``."""
    said = str(exc)
    lines = source.splitlines()
    reason = _AT_END.sub("", _AT_LINE.sub("", said))
    at = _position(said, lines)
    if (header := _unclosed_header(at, lines)) is not None:
        at, what = header
    else:
        what = _what(reason, at, lines)
    where = f"{path}, line {at.line}, column {at.column}" if at.line else f"{path}"
    shown = f" Line {at.line} reads: {at.text.strip()!r}." if at.text.strip() else ""
    return f"{where}: not valid TOML: {what}.{shown} {fix}"


def _position(said: str, lines: list[str]) -> TomlPosition:
    if match := _AT_LINE.search(said):
        line, column = int(match[1]), int(match[2])
        return TomlPosition(line, column, lines[line - 1] if 0 < line <= len(lines) else "")
    # "At end of document": the last line with something on it is where it was left open.
    for number in range(len(lines), 0, -1):
        if lines[number - 1].strip():
            return TomlPosition(number, len(lines[number - 1]) + 1, lines[number - 1])
    return TomlPosition(0, 0, "")


def _header_text(text: str) -> str:
    """A line's text without its comment, when it is a table header (``[`` first)."""
    stripped = text.split("#", 1)[0].strip()
    return stripped if stripped.startswith("[") else ""


def _unclosed_header(at: TomlPosition, lines: list[str]) -> tuple[TomlPosition, str] | None:
    """The header on the error's line, when it lacks its ``]``: tomllib stops on that line
    (or at the end of the document, for a last line) whatever reason it gives."""
    header = _header_text(at.text)
    double = header.startswith("[[")
    closing = "]]" if double else "]"
    if not header or (header.endswith(closing) and header.count("[") == header.count("]")):
        return None
    name = header.lstrip("[").rstrip("]").strip()
    fixed = f"[[{name}]]" if double else f"[{name}]"
    spot = TomlPosition(at.line, at.text.index(header) + len(header) + 1, at.text)
    return spot, f"the table header `{header}` is missing `{closing}` (write `{fixed}`)"


def _header_name(at: TomlPosition) -> str:
    """The name between a header line's brackets (``audit x`` of ``[audit x]``)."""
    return _header_text(at.text).strip("[]").strip()


def _what(reason: str, at: TomlPosition, lines: list[str]) -> str:
    """tomllib's reason in the words of the file's author, or as it said it."""
    if match := _TWICE.match(reason):
        name = ".".join(part.strip().strip("'\"") for part in match[1].split(",") if part.strip())
        first = next(
            (n for n in range(1, at.line) if _header_text(lines[n - 1]) == f"[{name}]"), None
        )
        earlier = f" (first on line {first})" if first else ""
        return f"the table `[{name}]` is declared twice{earlier}; put its keys in one `[{name}]`"
    if reason == "Cannot overwrite a value":
        key = at.text.split("=", 1)[0].strip()
        return f"the key `{key}` is set twice in the same table; keep one of them"
    if reason == "Illegal character '\\n'" and ('"' in at.text or "'" in at.text):
        return "a string is not closed before the end of the line; end it with its quote"
    if reason == "Unterminated string":
        return "a string opened here or above is never closed; end it with its quote"
    if reason == "Invalid value":
        value = at.text[at.column - 1 :].split("#", 1)[0].strip() if at.column else ""
        shown = f"`{value}` " if value else "the value "
        return (
            f'{shown}is not a TOML value; quote text ("{value or "..."}"), and write '
            "numbers, true/false, [arrays] or {inline tables} as they are"
        )
    if reason == "Unclosed array":
        return "an array opened with `[` here or above has no closing `]`"
    if reason == "Unclosed inline table":
        return "an inline table opened with `{` here or above has no closing `}`"
    if reason == "Expected ']' at the end of a table declaration" and " " in _header_name(at):
        name = _header_name(at)
        return (
            f'`[{name}]` is not a table name: quote a name with spaces (`["{name}"]`) '
            "and join nested names with dots"
        )
    return reason[:1].lower() + reason[1:]
