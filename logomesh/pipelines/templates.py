"""``${{ ... }}`` inside the strings of a pipeline file: finding, checking and rendering them.

A ``with:`` value is a template. When it is exactly one ``${{ }}`` (spaces around it
allowed) its value keeps its type, so ``${{ steps.scan.data.files }}`` passes a list on to
the next command; otherwise each ``${{ }}`` is cast to a string and the pieces are joined,
bounded like every string an expression builds. An ``if:`` may be written bare or as one
``${{ }}``; one that mixes text and ``${{ }}`` would always be true (a non-empty string),
which is GitHub's best-known trap, so it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from logomesh.errors import PipelineExpressionError
from logomesh.pipelines.evaluator import StatusFunctions, evaluate
from logomesh.pipelines.expressions import Expression, failure_at, parse_in
from logomesh.pipelines.values import JSON, EvaluationFailure, check_length, kind, to_string

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Template:
    """One ``${{ }}`` found in a value: where (the keys and indexes down to its string, and
    its column in that string) and what."""

    path: Path
    column: int
    expression: Expression


def _fail(source: str, column: int, message: str, fix: str) -> PipelineExpressionError:
    return failure_at(source, column, EvaluationFailure(message, fix))


# Inside ``${{ }}``: anything but a quote or a brace, a brace not followed by another, or a
# whole 'string' (``''`` inside it is a quote; the lookahead keeps it from ending inside a
# run of quotes). The text it cannot take is the closing ``}}``, or what is never closed.
_EXPRESSION_BODY = re.compile(r"(?:[^'}]+|\}(?!\})|'[^']*(?:''[^']*)*'(?!'))*")


def _closing(text: str, start: int) -> int:
    """Where the ``}}`` that ends the expression starting at ``start`` is (``}}`` inside a
    quoted string does not count), or -1."""
    match = _EXPRESSION_BODY.match(text, start)
    end = match.end() if match else start
    return end if text.startswith("}}", end) else -1


@lru_cache(maxsize=1024)
def split(text: str) -> tuple[str | Expression, ...]:
    """:func:`parse_template`, cached: a pipeline renders the same strings for every run
    and every ``for_each`` item."""
    return parse_template(text)


def parse_template(text: str) -> tuple[str | Expression, ...]:
    """``text`` as literal pieces and parsed expressions, in order. Validation reads each
    string of a file once, so it parses without the cache: a large file would only evict
    what runs use, and keep its own expressions alive."""
    pieces: list[str | Expression] = []
    position = 0
    for opening, close in spans(text):
        if opening > position:
            pieces.append(text[position:opening])
        pieces.append(parse_in(text[opening + 3 : close], source=text, base=opening + 3))
        position = close + 2
    if position < len(text):
        pieces.append(text[position:])
    return tuple(pieces)


def spans(text: str) -> Iterator[tuple[int, int]]:
    """Where each ``${{ }}`` of ``text`` is: the offsets of its ``${{`` and of its ``}}``,
    in order (one that is never closed raises when the scan reaches it)."""
    position = 0
    while (opening := text.find("${{", position)) >= 0:
        close = _closing(text, opening + 3)
        if close < 0:
            raise _fail(text, opening + 1, "this ${{ is never closed", "end the expression with }}")
        yield opening, close
        position = close + 2


def _whole(pieces: tuple[str | Expression, ...]) -> Expression | None:
    """The one expression of a template that is nothing else (but spaces)."""
    expressions = [p for p in pieces if isinstance(p, Expression)]
    texts = [p for p in pieces if isinstance(p, str)]
    if len(expressions) == 1 and all(not t.strip() for t in texts):
        return expressions[0]
    return None


def render(
    value: JSON, context: Mapping[str, JSON], status_functions: StatusFunctions | None = None
) -> JSON:
    """``value`` with every template in it (in strings, down through lists and objects)
    replaced by its value over ``context``."""
    if isinstance(value, str):
        if "${{" not in value:
            return value
        pieces = split(value)
        whole = _whole(pieces)
        if whole is not None:
            return evaluate(whole, context, status_functions)
        out, size = [], 0
        for piece in pieces:
            text = piece if isinstance(piece, str) else to_string(
                evaluate(piece, context, status_functions))  # fmt: skip
            size += len(text)
            try:
                check_length(size, "the rendered string")
            except EvaluationFailure as failure:
                raise failure_at(value, 1, failure) from None
            out.append(text)
        return "".join(out)
    if isinstance(value, list):
        return [render(item, context, status_functions) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context, status_functions) for key, item in value.items()}
    try:
        kind(value)  # a literal number, boolean or null; anything else is refused
    except EvaluationFailure as failure:
        raise failure_at(repr(value), 1, failure) from None
    return value


def find_templates(value: JSON, path: Path = ()) -> Iterator[Template]:
    """Every ``${{ }}`` in ``value``, parsed (a malformed one raises), for validation."""
    if isinstance(value, str):
        if "${{" in value:
            for piece in split(value):
                if isinstance(piece, Expression):
                    yield Template(path, piece.offset - 2, piece)  # the column of its ${{
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find_templates(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find_templates(item, (*path, key))


def parse_condition(
    text: str, *, contexts: set[str] | None = None, cached: bool = True
) -> Expression:
    """An ``if:`` condition, bare (``success() && inputs.deploy``) or as one ``${{ }}``.

    Cached (without ``contexts``): the executor asks for a step's condition on every run
    and every ``for_each`` item; an error is not cached. Validation, which reads each
    condition once, passes ``cached=False`` (see :func:`parse_template`)."""
    if contexts is None and cached:
        return _condition(text)
    return _parse_condition(text, contexts)


@lru_cache(maxsize=1024)
def _condition(text: str) -> Expression:
    return _parse_condition(text, None)


def _parse_condition(text: str, contexts: set[str] | None) -> Expression:
    if "${{" not in text:
        return parse_in(text, source=text, base=0, contexts=contexts)
    whole = _whole(parse_template(text))
    if whole is None:
        raise _fail(
            text, text.index("${{") + 1, "this if: mixes text with ${{ }}, so it would "
            "always be true", "write the whole condition as one expression, without ${{ }}",
        )  # fmt: skip
    if contexts is not None:  # check again, against the allowed names
        return parse_in(whole.text, source=text, base=whole.offset, contexts=contexts)
    return whole
