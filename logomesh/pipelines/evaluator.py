"""Running a parsed :class:`~logomesh.pipelines.expressions.Expression` over a context.

A context is a mapping of names (``inputs``, ``steps``...) to JSON values. The evaluator
only ever indexes dicts by key and lists by position, so ``inputs.__class__`` is a missing
key like any other, and a value that is not JSON (a Python object put in a context by
mistake) is refused rather than looked into. Its work is counted in steps (one per node
visited, one per element a function visits) up to ``MAX_STEPS``; the strings it builds are
bounded in :mod:`.values`. The status functions (``success()``...) are the caller's: the
executor knows how the run is going, the language does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from logomesh.pipelines.expressions import (
    Access,
    Call,
    Compare,
    Context,
    Expression,
    Literal,
    Logical,
    Node,
    Not,
    failure_at,
    parse,
)
from logomesh.pipelines.functions import FUNCTIONS
from logomesh.pipelines.values import (
    JSON,
    EvaluationFailure,
    compare,
    is_truthy,
    kind,
    loose_equal,
    to_number,
    to_string,
)

MAX_STEPS = 10_000
_A = {"null": "null", "boolean": "a boolean", "number": "a number", "string": "a string"}
StatusFunctions: TypeAlias = Mapping[str, Callable[[], bool]]
_RELATIONS: dict[str, Callable[[int], bool]] = {
    "<": lambda order: order < 0,
    "<=": lambda order: order <= 0,
    ">": lambda order: order > 0,
    ">=": lambda order: order >= 0,
}


class _Located(Exception):
    """An :class:`EvaluationFailure` with the column of the innermost node it came from."""

    def __init__(self, failure: EvaluationFailure, column: int) -> None:
        super().__init__(failure.message)
        self.failure, self.column = failure, column


def evaluate(
    expression: Expression | str,
    context: Mapping[str, JSON],
    status_functions: StatusFunctions | None = None,
) -> JSON:
    """The value of ``expression`` over ``context``: plain JSON, or a
    :class:`PipelineExpressionError` naming the expression, the column and the fix."""
    if isinstance(expression, str):
        expression = parse(expression)
    evaluator = _Evaluator(context, status_functions or {})
    try:
        value = evaluator.value(expression.root)
        _check_plain(value)
    except _Located as located:
        raise failure_at(expression.source, located.column, located.failure) from None
    except EvaluationFailure as failure:
        raise failure_at(expression.source, expression.root.column, failure) from None
    return value


def _check_plain(value: JSON) -> None:
    """Refuse a result holding anything but JSON (it may come whole from a context).

    A depth-first walk that colours containers: one on the current path seen again is a
    cycle (only Python makes one); one already checked is shared, and not walked twice."""
    stack: list[tuple[JSON, bool]] = [(value, False)]
    on_path: set[int] = set()
    checked: set[int] = set()
    while stack:
        item, leaving = stack.pop()
        if leaving:
            on_path.discard(id(item))
            checked.add(id(item))
            continue
        if kind(item) not in ("array", "object") or id(item) in checked:
            continue
        if id(item) in on_path:
            raise EvaluationFailure(
                "a value of the context contains itself",
                "contexts may hold only JSON values, which are trees",
            )
        on_path.add(id(item))
        stack.append((item, True))
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise EvaluationFailure(
                    "an object in the context has a key that is not a string",
                    "contexts may hold only JSON values",
                )
            stack.extend((child, False) for child in item.values())
        else:
            assert isinstance(item, list)
            stack.extend((child, False) for child in item)


class _Evaluator:
    def __init__(self, context: Mapping[str, JSON], status: StatusFunctions) -> None:
        self.context, self.status = context, status
        self.steps = 0

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise EvaluationFailure(
                f"the expression took more than {MAX_STEPS:,} steps",
                "simplify it, or compute the value in a step and read its data",
            )

    def value(self, node: Node) -> JSON:
        try:
            self.charge(1)
            return self.dispatch(node)
        except EvaluationFailure as failure:
            raise _Located(failure, node.column) from None

    def dispatch(self, node: Node) -> JSON:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Context):
            return self.root(node.name)
        if isinstance(node, Access):
            return self.access(node)
        if isinstance(node, Not):
            return not is_truthy(self.value(node.operand))
        if isinstance(node, Logical):
            # GitHub returns the operand that decided, not a boolean: a || 'default'.
            decided: JSON = None
            for operand in node.operands:
                decided = self.value(operand)
                if is_truthy(decided) == (node.operator == "||"):
                    break
            return decided
        if isinstance(node, Compare):
            return self.compare(node)
        return self.call(node)

    def root(self, name: str) -> JSON:
        if name not in self.context:
            raise EvaluationFailure(
                f"there is no context {name!r}",
                f"use one of: {', '.join(sorted(self.context)) or '(none here)'}",
            )
        value = self.context[name]
        kind(value)  # refuses a non-JSON value before anything reads it
        return value

    def access(self, node: Access) -> JSON:
        value = self.value(node.target)
        label = _label(node.target)
        for step, column in zip(node.steps, node.step_columns, strict=True):
            key: JSON = step if isinstance(step, str) else self.value(step)
            try:
                value = _step(value, key, label)
                kind(value)  # refuses a non-JSON value before anything reads it
            except EvaluationFailure as failure:
                raise _Located(failure, column) from None
            label += f".{key}" if isinstance(step, str) else _index_label(key)
        return value

    def compare(self, node: Compare) -> JSON:
        left = self.value(node.first)
        for operator, right_node in node.rest:
            right = self.value(right_node)
            if operator in ("==", "!="):
                left = loose_equal(left, right) == (operator == "==")
            else:
                order = compare(left, right)
                left = order is not None and _RELATIONS[operator](order)
        return left

    def call(self, node: Call) -> JSON:
        function = FUNCTIONS.get(node.name.casefold())
        if function is None:
            status = self.status.get(node.name)
            if status is None:
                raise EvaluationFailure(
                    f"{node.name}() is not available here",
                    "success(), failure(), always() and cancelled() belong in a step's if:",
                )
            return bool(status())
        args = [self.value(arg) for arg in node.args]
        return function.run(args, self.charge)


def _label(node: Node) -> str:
    if isinstance(node, Context):
        return node.name
    if isinstance(node, Call):
        return f"{node.name}()"
    return "the value"


def _index_label(key: JSON) -> str:
    return f"[{to_string(key)}]" if kind(key) == "number" else f"[{to_string(key)!r}]"


def _step(value: JSON, key: JSON, label: str) -> JSON:
    """``value[key]`` for a dict or a list, and a clear error for anything else."""
    if isinstance(value, dict):
        if not isinstance(key, str):
            raise EvaluationFailure(
                f"{label} is an object, indexed by {_A.get(kind(key), 'an ' + kind(key))}",
                "index an object by a string",
            )
        if key not in value:
            fields = ", ".join(sorted(k for k in value if isinstance(k, str))[:20])
            raise EvaluationFailure(
                f"{label} has no field {key!r}",
                f"use one of its fields: {fields}" if fields else f"{label} has no fields",
            )
        return value[key]
    if kind(value) == "array":
        assert isinstance(value, list)
        number = to_number(key)
        if not (number.is_integer() and 0 <= number < len(value)):
            raise EvaluationFailure(
                f"{label} has {len(value)} items; there is no item {to_string(key)!r}",
                f"index it with a whole number from 0 to {len(value) - 1}"
                if value
                else f"{label} is empty: check it first, e.g. {label}[0] && ...",
            )
        return value[int(number)]
    raise EvaluationFailure(
        f"{label} is {_A[kind(value)]}, which has no field {to_string(key)!r}",
        "only objects have fields and only arrays have items",
    )
