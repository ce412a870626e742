"""``${{ ... }}`` templates and ``if:`` conditions: a small language with no way out.

Pipeline files are data that people share, so evaluating them must not be able to run
code. The language is GitHub Actions' (literals, context paths, ``a[0]``, ``! < <= > >= ==
!= && ||``, parentheses, a fixed list of functions) because pipeline authors know it.

Why a parser of our own rather than a library: ``simpleeval`` and ``asteval`` start from
Python's grammar and walk Python's AST, so they give Python's semantics (``**``, attribute
access they must then deny one by one, ``==`` without GitHub's loose equality, ``and``
returning Python objects) and an escape hatch is one missed node away; ``jinja2``'s sandbox
is a template engine built around attribute access. Here a tokenizer and a recursive
descent parser accept only this grammar, so what is not in it (``**``, ``lambda``,
``import``, attribute lookup on Python objects) is a syntax error before anything runs,
and the evaluator only indexes dicts and lists (see :mod:`.values`).

Each expression is bounded: its text (4 KB), its nesting (64), the strings it builds
(64 KB) and its work (10,000 steps). Unlike GitHub, a path to a field or index that is not
there is an error rather than null, so a typo fails loudly instead of making a condition
quietly false. Every error is a :class:`PipelineExpressionError` naming the text and the
column. This module is the syntax; its neighbours are :mod:`.evaluator` (running an
:class:`Expression`), :mod:`.values` (the coercions), :mod:`.functions` (the callable
names) and :mod:`.templates` (finding and rendering ``${{ }}`` in strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from logomesh.errors import PipelineExpressionError
from logomesh.pipelines.functions import FUNCTIONS, STATUS_FUNCTIONS, known_names
from logomesh.pipelines.values import (
    JSON,
    EvaluationFailure,
    kind,
    number_from_text,
)

MAX_EXPRESSION_CHARS = 4 * 1024
MAX_DEPTH = 64

# One pattern for every token (whitespace before it skipped in the same match), scanned
# with finditer: the tokenizer is most of the cost of parsing, and validation parses every
# expression of every file. A string is ``'`` up to the first odd run of quotes (``''`` is
# a quote inside it); the lookahead keeps a shorter match from ending inside such a run, so
# a string that is never closed falls through to ``quote``, at its opening quote. A name
# takes the ``.field``s written right after it (``steps.build.outcome``): most of what an
# expression holds is such paths, and one token for each is a third of the tokens.
_SCAN = re.compile(
    r"\s*(?:(?P<number>-?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,])"
    r"|(?P<string>'[^']*(?:''[^']*)*'(?!'))"
    r"|(?P<quote>')|(?P<other>\S))",  # no match: only whitespace is left
)
_GRAMMAR = (
    "an expression is literals (null, true, false, numbers, 'strings'), context paths "
    "(inputs.x, steps.ID.data.FIELD), a[0], ! < <= > >= == != && ||, parentheses and the "
    f"functions {known_names()}"
)
_HINTS = {
    "*": "there is no arithmetic: compute the value in a step and read its data",
    "+": "there is no arithmetic: use format('{0}{1}', a, b) to join strings",
    "-": "there is no arithmetic: compute the value in a step and read its data",
    "/": "there is no arithmetic: compute the value in a step and read its data",
    "%": "there is no arithmetic: compute the value in a step and read its data",
    '"': "strings use single quotes: 'text' (write '' for a quote inside one)",
    "=": "compare with ==",
    "&": "write && for 'and'",
    "|": "write || for 'or'",
}


@dataclass(frozen=True, slots=True)
class Literal:
    value: JSON
    column: int


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Access:
    """``target.field``, ``target[index]``...: one node for the whole chain, so a long
    path is not a deep tree."""

    target: Node
    steps: tuple[str | Node, ...]
    column: int
    step_columns: tuple[int, ...] = ()  # where each step starts, for errors


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # the canonical spelling
    args: tuple[Node, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    column: int


@dataclass(frozen=True, slots=True)
class Compare:
    first: Node
    rest: tuple[tuple[str, Node], ...]  # (operator, right operand), left to right
    column: int


@dataclass(frozen=True, slots=True)
class Logical:
    operator: str  # "&&" or "||"
    operands: tuple[Node, ...]
    column: int


Node: TypeAlias = Literal | Context | Access | Call | Not | Compare | Logical


class _Token(NamedTuple):
    """A tuple, as tokens are made by the thousand; ``key`` is an operator's text or the
    kind of any other token, so the parser tests for an operator with one lookup."""

    kind: str  # "number", "string", "name", "op" or "end"
    text: str  # a name's first part only: the parser sees ``a.b`` as ``a`` then fields
    column: int
    value: JSON = None
    key: str = ""
    fields: tuple[str, ...] = ()  # a name's ``.field``s
    dots: tuple[int, ...] = ()  # the column of the "." before each


def _fail(source: str, column: int, message: str, fix: str) -> PipelineExpressionError:
    shown = source if len(source) <= 80 else source[:77] + "..."
    return PipelineExpressionError(
        f"expression {shown!r}, column {column}: {message}. Fix: {fix}",
        expression=source,
        column=column,
    )


def failure_at(source: str, column: int, failure: EvaluationFailure) -> PipelineExpressionError:
    """The user-facing error for a failure while evaluating the node at ``column``."""
    return _fail(source, column, failure.message, failure.fix)


def _tokens(text: str, source: str, base: int) -> list[_Token]:
    """``text`` as tokens; ``base`` is where it starts in ``source`` (0 for a bare one)."""
    found: list[_Token] = []
    for match in _SCAN.finditer(text):  # each match starts where the one before ended
        group = match.lastgroup or "other"
        token, start = match[group], match.start(group)
        column = base + start + 1
        if group == "name":
            found.append(_name(token, column))
        elif group == "op":
            found.append(_Token("op", token, column, None, token))
        elif group == "string":
            inner = token[1:-1]
            value = inner.replace("''", "'") if "''" in inner else inner
            found.append(_Token("string", token, column, value, "string"))
        elif group == "number":
            end = match.end()
            after = text[end : end + 1]
            number = number_from_text(token)
            if number is None or after.isalnum() or after in ("_", "."):
                raise _fail(
                    source, column, f"{text[start : end + 1]!r} is not a number",
                    "write a JSON number (3, -1.5, 2e3) or a hex one (0xff) under 2**53",
                )  # fmt: skip
            found.append(_Token("number", token, column, number, "number"))
        elif group == "quote":
            raise _fail(source, column, "this string is never closed", "end it with '")
        else:
            raise _fail(
                source, column, f"{token!r} is not part of the expression language",
                _HINTS.get(token, _GRAMMAR),
            )  # fmt: skip
    found.append(_Token("end", "", base + len(text) + 1, None, "end"))
    return found


def _name(text: str, column: int) -> _Token:
    if "." not in text:
        return _Token("name", text, column, None, "name")
    names = text.split(".")
    dots, at = [], column - 1
    for name in names[:-1]:
        at += len(name) + 1
        dots.append(at)
    return _Token("name", names[0], column, None, "name", tuple(names[1:]), tuple(dots))


_KEYWORDS: dict[str, JSON] = {"true": True, "false": False, "null": None}
_KEYS = frozenset({"string", "number"})  # the kinds of literal that a path may step by
# Most expressions are a bare path (``steps.build.data.files``, ``inputs.name``): those
# skip the tokenizer and the parser (validation parses every expression of every file).
_PLAIN_PATH = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)\s*")

# How tightly each binary operator binds, loosest first (``!`` and ``.``/``[]`` bind tighter).
_OR, _AND, _EQUALITY, _RELATION = range(4)
_LEVELS = {"||": _OR, "&&": _AND, "==": _EQUALITY, "!=": _EQUALITY}
_LEVELS.update(dict.fromkeys(("<", "<=", ">", ">="), _RELATION))


class _Parser:
    """Loosest first: ``||``, ``&&``, ``== !=``, ``< <= > >=`` (by precedence climbing,
    :meth:`binary`), then ``!`` and a value with its ``.field`` / ``[index]`` steps (by
    recursive descent)."""

    def __init__(self, tokens: list[_Token], source: str) -> None:
        self.tokens, self.source = tokens, source
        self.position = 0
        self.depth = 0

    def fail(self, token: _Token, message: str, fix: str = _GRAMMAR) -> PipelineExpressionError:
        return _fail(self.source, token.column, message, fix)

    def peek(self, *texts: str) -> bool:
        return self.tokens[self.position].key in texts

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += token.kind != "end"
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.key != text:
            found = f"found {token.text!r}" if token.text else "the expression ends"
            raise self.fail(token, f"expected {text!r} but {found}", f"add the missing {text}")

    def nested(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(token, f"nested deeper than {MAX_DEPTH} levels", "simplify it")

    def whole(self) -> Node:
        node = self.or_()
        token = self.take()
        if token.kind != "end":
            raise self.fail(token, f"expected an operator or the end, found {token.text!r}")
        return node

    def or_(self) -> Node:
        return self.binary(self.unary(), 0)

    def binary(self, left: Node, level: int) -> Node:
        """``left`` and the operators of ``level`` or tighter that follow it (precedence
        climbing: one call per operand, not one per level). A run of one level's operators
        is one node: ``&&`` and ``||`` n-ary, comparisons a chain, left to right."""
        tokens = self.tokens
        while (found := _LEVELS.get(tokens[self.position].key, -1)) >= level:
            operator = tokens[self.position].key
            if found <= _AND:
                operands = [left]
                while tokens[self.position].key == operator:
                    self.position += 1
                    operands.append(self.binary(self.unary(), found + 1))
                left = Logical(operator, tuple(operands), left.column)
            else:
                rest: list[tuple[str, Node]] = []
                while _LEVELS.get(operator := tokens[self.position].key) == found:
                    self.position += 1
                    rest.append((operator, self.binary(self.unary(), found + 1)))
                left = Compare(left, tuple(rest), left.column)
        return left

    def unary(self) -> Node:
        if self.tokens[self.position].key != "!":
            return self.postfix()
        token = self.take()
        self.nested(token)
        node = Not(self.unary(), token.column)
        self.depth -= 1
        return node

    def postfix(self) -> Node:
        first = self.tokens[self.position]
        node = self.primary()
        if not self.peek(".", "["):  # the usual case: nothing after the name's own fields
            return _steps(node, first.fields, first.dots)
        steps: list[str | Node] = list(first.fields)
        columns: list[int] = list(first.dots)
        while self.peek(".", "["):
            token = self.take()
            columns.append(token.column)
            if token.text == ".":
                field = self.take()
                if field.kind != "name":
                    raise self.fail(field, "expected a field name after '.'", "write a.b or a['b']")
                steps += (field.text, *field.fields)
                columns += field.dots
            else:
                steps.append(self.inner(token))
                self.expect("]")
        return _steps(node, tuple(steps), tuple(columns))

    def inner(self, token: _Token) -> Node:
        self.nested(token)
        node = self.or_()
        self.depth -= 1
        return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind in ("number", "string"):
            return Literal(token.value, token.column)
        if token.kind == "name":
            if token.text not in _KEYWORDS and not token.fields and self.peek("("):
                return self.call(token)
            return _head(token)
        if token.kind == "op" and token.text == "(":
            node = self.inner(token)
            self.expect(")")
            return node
        found = f"found {token.text!r}" if token.text else "the expression ends"
        raise self.fail(token, f"expected a value but {found}")

    def call(self, token: _Token) -> Node:
        self.take()  # (
        args: list[Node] = []
        while not self.peek(")"):
            if args:
                self.expect(",")
            args.append(self.inner(token))
        self.take()
        folded = token.text.casefold()
        function = FUNCTIONS.get(folded)
        if function is None and folded not in STATUS_FUNCTIONS:
            raise self.fail(
                token, f"there is no function {token.text!r}", f"call one of: {known_names()}"
            )
        name, low, high = (function.name, function.min_args, function.max_args) if function else (
            folded, 0, 0)  # fmt: skip
        if len(args) < low or (high is not None and len(args) > high):
            arity = function.arity() if function else "no arguments"
            raise self.fail(
                token, f"{name}() takes {arity}, not {len(args)}", f"call it with {arity}"
            )
        return Call(name, tuple(args), token.column)


def _head(token: _Token) -> Node:
    """A name that is not called: a keyword's value or a context."""
    if token.text in _KEYWORDS:
        return Literal(_KEYWORDS[token.text], token.column)
    return Context(token.text, token.column)


def _steps(node: Node, steps: tuple[str | Node, ...], columns: tuple[int, ...]) -> Node:
    """``node`` with its ``.field`` / ``[index]`` steps: one Access for the whole chain."""
    return Access(node, steps, node.column, columns) if steps else node


def _children(node: Node) -> Sequence[Node]:
    if isinstance(node, Access):
        return (node.target, *(step for step in node.steps if not isinstance(step, str)))
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Compare):
        return (node.first, *(right for _, right in node.rest))
    if isinstance(node, Logical):
        return node.operands
    return ()


def _walk(node: Node) -> Iterator[Node]:
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(_children(current))


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: immutable, reusable, and inspectable by the validator."""

    text: str  # the expression itself (for a template, what is inside ``${{ }}``)
    source: str  # what the author wrote around it, which error columns count in
    root: Node
    offset: int = 0  # where ``text`` starts in ``source``

    def references(self) -> set[tuple[str, ...]]:
        """Context paths it reads, as far as they are literal: ``steps.build.data.x`` is
        ``("steps", "build", "data", "x")``; ``steps[inputs.id].outcome`` gives ``("steps",)``
        and ``("inputs", "id")``."""
        found: set[tuple[str, ...]] = set()
        pending = [self.root]
        while pending:
            node = pending.pop()
            if isinstance(node, Context):
                found.add((node.name,))
            elif isinstance(node, Access) and isinstance(node.target, Context):
                # the context starts a path, so it is not read whole: not walked into
                path = [node.target.name]
                literal = True  # every step so far is a name or a literal key
                for step in node.steps:
                    if isinstance(step, str):
                        if literal:
                            path.append(step)
                        continue
                    pending.append(step)
                    if literal and isinstance(step, Literal) and kind(step.value) in _KEYS:
                        path.append(str(step.value))
                    else:
                        literal = False
                found.add(tuple(path))
            else:
                pending.extend(_children(node))
        return found

    def functions(self) -> set[str]:
        return {node.name for node in _walk(self.root) if isinstance(node, Call)}

    @property
    def uses_status_function(self) -> bool:
        """Whether it calls success()/failure()/always()/cancelled(); the executor treats a
        condition that does not as ``success() && (condition)``, as GitHub does."""
        return not self.functions().isdisjoint(STATUS_FUNCTIONS)


def parse(text: str, *, contexts: set[str] | None = None) -> Expression:
    """Parse one expression (the text inside ``${{ }}``, or a bare ``if:`` condition).
    With ``contexts``, a path starting anywhere else is an error here, not at run time."""
    return parse_in(text, source=text, base=0, contexts=contexts)


def parse_in(text: str, *, source: str, base: int, contexts: set[str] | None = None) -> Expression:
    """Parse ``text`` found at offset ``base`` of ``source`` (errors count columns there)."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _fail(
            source, base + 1, f"the expression is {len(text):,} characters, over the limit "
            f"of {MAX_EXPRESSION_CHARS:,}", "keep large data in inputs or step data",
        )  # fmt: skip
    if not text.strip():
        raise _fail(source, base + 1, "the expression is empty", "write a value or a condition")
    path = _PLAIN_PATH.fullmatch(text)
    if path is not None:  # the parser would build the same node, at a few times the cost
        name = _name(path[1], base + path.start(1) + 1)
        root = _steps(_head(name), name.fields, name.dots)
    else:
        root = _Parser(_tokens(text, source, base), source).whole()
    expression = Expression(text, source, root, base)
    if contexts is not None:
        for node in _walk(expression.root):
            if isinstance(node, Context) and node.name not in contexts:
                raise _fail(
                    source, node.column, f"there is no context {node.name!r}",
                    f"use one of: {', '.join(sorted(contexts))}",
                )  # fmt: skip
    return expression
