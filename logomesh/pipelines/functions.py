"""The only calls an expression can make: GitHub Actions' pure functions, and the names of
the status functions that the executor supplies.

Every function takes and returns JSON values (see :mod:`logomesh.pipelines.values`) and
pays for its work through ``charge`` (one step per element it visits), so an expression's
cost is bounded by the evaluator's step budget rather than by the size of a context. The
strings they build are bounded by ``values.MAX_STRING_CHARS``. Names are matched ignoring
case, as GitHub does (``fromjson`` is ``fromJSON``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from logomesh.pipelines.values import (
    JSON,
    EvaluationFailure,
    bounded,
    check_length,
    kind,
    loose_equal,
    to_string,
)

Charge = Callable[[int], None]
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
MAX_VALUE_DEPTH = 64  # the deepest value fromJSON may build (deeper ones break recursion)


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number (format)
    run: Callable[[Sequence[JSON], Charge], JSON]

    def arity(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument" + ("s" if self.min_args != 1 else "")
        if self.min_args == self.max_args:
            return f"{self.min_args} argument" + ("s" if self.min_args != 1 else "")
        return f"{self.min_args} to {self.max_args} arguments"


def _contains(args: Sequence[JSON], charge: Charge) -> JSON:
    search, item = args
    if isinstance(search, list):
        for element in search:
            charge(1)
            if loose_equal(element, item):
                return True
        return False
    return to_string(item).casefold() in to_string(search).casefold()


def _starts_with(args: Sequence[JSON], charge: Charge) -> JSON:
    return to_string(args[0]).casefold().startswith(to_string(args[1]).casefold())


def _ends_with(args: Sequence[JSON], charge: Charge) -> JSON:
    return to_string(args[0]).casefold().endswith(to_string(args[1]).casefold())


def _format(args: Sequence[JSON], charge: Charge) -> JSON:
    """``format('{0} {{literal}}', x)``: ``{N}`` is argument N cast to a string; ``{{`` and
    ``}}`` are braces."""
    template, values = to_string(args[0]), args[1:]
    out: list[str] = []
    size, i = 0, 0
    while i < len(template):
        char = template[i]
        if char in "{}" and template[i + 1 : i + 2] == char:
            piece, i = char, i + 2
        elif char == "{":
            close = template.find("}", i)
            index = template[i + 1 : close] if close > 0 else ""
            if not (index.isascii() and index.isdigit() and len(index) <= 4):
                raise EvaluationFailure(
                    f"format string has '{{' at position {i + 1} without an argument number",
                    "write {0}, {1}... for the arguments, and {{ for a literal brace",
                )
            if int(index) >= len(values):
                raise EvaluationFailure(
                    f"format string uses {{{index}}} but {len(values)} argument(s) follow it",
                    "pass one argument after the format string for each {N} it uses",
                )
            charge(1)
            piece, i = to_string(values[int(index)]), close + 1
        elif char == "}":
            raise EvaluationFailure(
                f"format string has an unmatched '}}' at position {i + 1}",
                "write }} for a literal closing brace",
            )
        else:
            piece, i = char, i + 1
        size += len(piece)
        check_length(size, "the result of format()")
        out.append(piece)
    return "".join(out)


def _join(args: Sequence[JSON], charge: Charge) -> JSON:
    value, separator = args[0], to_string(args[1]) if len(args) > 1 else ","
    if not isinstance(value, list):
        return to_string(value)
    parts: list[str] = []
    size = 0
    for element in value:
        charge(1)
        parts.append(to_string(element))
        size += len(parts[-1]) + len(separator)
        check_length(size - len(separator), "the result of join()")
    return separator.join(parts)


def _to_json(args: Sequence[JSON], charge: Charge) -> JSON:
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)
    out: list[str] = []
    size = 0
    try:
        for chunk in encoder.iterencode(args[0]):  # its work is bounded by the size cap
            size += len(chunk)
            check_length(size, "the result of toJSON()")
            out.append(chunk)
    except (ValueError, TypeError, RecursionError) as exc:
        raise EvaluationFailure(
            f"toJSON() cannot write this value as JSON ({exc})",
            "pass toJSON() plain data: no NaN or Infinity, no nesting deeper than 64",
        ) from None
    return "".join(out)


def _reject_constant(name: str) -> JSON:
    raise ValueError(f"{name} is not JSON")


def _from_json(args: Sequence[JSON], charge: Charge) -> JSON:
    text = bounded(to_string(args[0]), "the text given to fromJSON()")
    try:
        value: JSON = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise EvaluationFailure(
            f"fromJSON() was given text that is not JSON ({exc})",
            "give fromJSON() a JSON document, such as '[1, 2]' or '{\"a\": true}'",
        ) from None
    _check_depth(value)
    return value


def _check_depth(value: JSON) -> None:
    pending: list[tuple[JSON, int]] = [(value, 1)]
    while pending:  # the text is at most 64 KB, so this is too
        item, depth = pending.pop()
        if depth > MAX_VALUE_DEPTH:
            raise EvaluationFailure(
                f"fromJSON() built a value nested deeper than {MAX_VALUE_DEPTH} levels",
                "flatten the JSON document",
            )
        if kind(item) == "array":
            assert isinstance(item, list)
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())


FUNCTIONS: dict[str, Function] = {
    f.name.casefold(): f
    for f in (
        Function("contains", 2, 2, _contains),
        Function("startsWith", 2, 2, _starts_with),
        Function("endsWith", 2, 2, _ends_with),
        Function("format", 1, None, _format),
        Function("join", 1, 2, _join),
        Function("toJSON", 1, 1, _to_json),
        Function("fromJSON", 1, 1, _from_json),
    )
}


def known_names() -> str:
    """Every callable name, for the message of an unknown call."""
    return ", ".join([*(f.name for f in FUNCTIONS.values()), *STATUS_FUNCTIONS])
