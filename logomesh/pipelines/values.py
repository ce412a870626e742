"""The value model of pipeline expressions: JSON values with GitHub Actions' coercions.

An expression sees only what JSON can say (null, booleans, numbers, strings, arrays,
objects), so a pipeline author's intuitions from GitHub Actions carry over, and nothing a
template reaches can be a Python object with attributes or methods. The rules here are
GitHub's (docs: "Evaluate expressions in workflows and actions"):

- falsy values are ``false``, ``0``, ``-0``, ``""``, ``null`` (and NaN, as the runner does);
- ``==``/``<``... compare loosely: values of different kinds are cast to numbers (null 0,
  true 1, false 0, a string parsed as a JSON number or else NaN, ``''`` 0, arrays and
  objects NaN); NaN is unequal to everything; strings compare ignoring case; arrays and
  objects are equal only to themselves;
- a value cast to a string: null ``''``, booleans ``true``/``false``, integral numbers
  without a decimal point, arrays ``Array`` and objects ``Object``.

Python's ``bool`` is an ``int``, so every test of a value's kind goes through :func:`kind`.
"""

from __future__ import annotations

import math
import re
from typing import Literal, TypeAlias

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
Kind = Literal["null", "boolean", "number", "string", "array", "object"]

_NUMBER = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\Z")
_EXACT_INTEGERS = 2**53  # beyond this a double cannot hold every integer
MAX_STRING_CHARS = 64 * 1024  # the longest string an expression may build


class EvaluationFailure(Exception):
    """A value could not be used as asked; the evaluator adds the expression and column."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def bounded(text: str, what: str) -> str:
    """``text`` if an expression may build it; a string passed through from a context is
    not measured (it is already in memory), only what an expression makes grows memory."""
    check_length(len(text), what)
    return text


def check_length(size: int, what: str) -> None:
    if size > MAX_STRING_CHARS:
        raise EvaluationFailure(
            f"{what} would be over {size:,} characters, beyond the limit of {MAX_STRING_CHARS:,}",
            "pass large data between steps whole (a template that is only ${{ ... }}) "
            "instead of building a string from it",
        )


def kind(value: object) -> Kind:
    """The JSON kind of ``value``; anything else is refused, never inspected. Types are
    matched exactly: a subclass of ``str`` or ``dict`` could run its own code when the
    evaluator compares or indexes it, so it is refused like any other Python object."""
    found = _KINDS.get(type(value))
    if found is None:
        raise EvaluationFailure(
            f"a value of the context is a Python {type(value).__name__}, not a JSON value",
            "contexts may hold only null, booleans, numbers, strings, arrays and objects "
            "(convert enums and other objects to plain values first)",
        )
    return found


_KINDS: dict[type, Kind] = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def number_from_text(text: str) -> int | float | None:
    """A JSON (or hex) number literal's value, or None when ``text`` is not one or does
    not fit a double. Integral values that a double holds exactly stay ``int``."""
    if not _NUMBER.match(text):
        return None
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    if digits[:2].lower() == "0x":
        whole = int(digits, 16)
        if whole > _EXACT_INTEGERS:
            return None
        return -whole if negative else whole
    value = float(text)
    if math.isinf(value):
        return None
    if value.is_integer() and abs(value) <= _EXACT_INTEGERS and not re.search(r"[.eE]", text):
        return int(value)
    return value


def to_number(value: JSON) -> float:
    """GitHub's cast to a number (NaN when there is none)."""
    match kind(value):
        case "null":
            return 0.0
        case "boolean":
            return 1.0 if value else 0.0
        case "number":
            assert isinstance(value, int | float)
            try:
                return float(value)
            except OverflowError:  # a huge Python int from a context
                return math.inf if value > 0 else -math.inf
        case "string":
            assert isinstance(value, str)
            text = value.strip()
            if not text:
                return 0.0
            if len(text) > 400:  # no double needs more digits; keeps the regex cheap
                return math.nan
            parsed = number_from_text(text)
            return math.nan if parsed is None else float(parsed)
        case _:
            return math.nan


def is_truthy(value: JSON) -> bool:
    match kind(value):
        case "null":
            return False
        case "boolean" | "string":
            return bool(value)
        case "number":
            number = to_number(value)
            return number != 0 and not math.isnan(number)
        case _:
            return True


def format_number(number: int | float) -> str:
    if isinstance(number, int):
        if abs(number) <= _EXACT_INTEGERS:
            return str(number)
        number = to_number(number)  # a huge int from a context: as a double, like GitHub
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def to_string(value: JSON) -> str:
    """GitHub's cast to a string, used by interpolation and the string functions."""
    match kind(value):
        case "null":
            return ""
        case "boolean":
            return "true" if value else "false"
        case "number":
            assert isinstance(value, int | float)
            return format_number(value)
        case "string":
            assert isinstance(value, str)
            return value
        case "array":
            return "Array"
        case _:
            return "Object"


def loose_equal(left: JSON, right: JSON) -> bool:
    left_kind, right_kind = kind(left), kind(right)
    if left_kind != right_kind:
        return to_number(left) == to_number(right)  # NaN == NaN is False, as it should be
    match left_kind:
        case "null":
            return True
        case "string":
            assert isinstance(left, str) and isinstance(right, str)
            return left.casefold() == right.casefold()
        case "boolean" | "number":
            return to_number(left) == to_number(right)
        case _:
            return left is right  # arrays and objects: only the same instance


def compare(left: JSON, right: JSON) -> int | None:
    """-1, 0 or 1 as ``left`` orders before, with or after ``right``; None when either is
    NaN after the cast (every relational operator is then false)."""
    if kind(left) == "string" and kind(right) == "string":
        assert isinstance(left, str) and isinstance(right, str)
        a, b = left.casefold(), right.casefold()
        return (a > b) - (a < b)
    x, y = to_number(left), to_number(right)
    if math.isnan(x) or math.isnan(y):
        return None
    return (x > y) - (x < y)
