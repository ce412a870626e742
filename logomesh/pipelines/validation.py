"""Checking a loaded pipeline file and reporting every problem at once, with where and how.

Two passes over the same :class:`LoadedDocument`, both collecting rather than stopping:
the pydantic models (wrong types, missing or unknown keys, with the closest valid key),
and the graph (duplicate ids, ``needs`` naming nothing, cycles named step by step,
``${{ steps.X }}`` that is unknown or not upstream, undeclared ``${{ inputs.x }}``,
unknown commands, pipelines that use each other in a circle). The graph pass reads the raw
data defensively, so a file with a type error still gets its graph problems reported.

Every pass is linear in the file, or close: reachability uses one bit set per step (Python
ints), built once in topological order, so a 10,000-step chain validates in milliseconds.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Container, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from logomesh.errors import PipelineExpressionError, PipelineValidationError, Problem
from logomesh.pipelines.expressions import Expression, parse_in
from logomesh.pipelines.loader import (
    LoadedDocument,
    PathKey,
    collection_paused,
    dotted,
    load_file,
)
from logomesh.pipelines.model import KEYS_AT, UNION_TAGS, Pipeline, used_pipeline
from logomesh.pipelines.templates import parse_condition, spans

Reads = list[tuple[str, str]]  # (context, name) of each steps.X / inputs.x read


def references(
    text: str, *, whole_expression: bool = False, memo: dict[str, Reads] | None = None
) -> Iterator[tuple[str, str]]:
    """(context, name) for each ``steps.X`` / ``inputs.x`` that a string's expressions read
    (the parser's :meth:`~.expressions.Expression.references`); ``whole_expression``: the
    string is an ``if:`` condition. A malformed expression raises PipelineExpressionError.

    ``memo`` remembers what each expression reads by its text, for one file: the same
    expression (``inputs.name``) is written in many steps, and what it reads does not depend
    on where it is (only its errors do, and a malformed one is never remembered)."""
    if whole_expression and "${{" in text:
        yield from _reads(parse_condition(text, cached=False))  # ${{ }} around, or a mistake
        return
    found: Iterable[tuple[str, int]]  # each expression, and where it starts in the text
    if whole_expression:
        found = [(text, 0)]
    elif "${{" in text:
        found = ((text[opening + 3 : close], opening + 3) for opening, close in spans(text))
    else:
        return  # plain text (most strings of a file: ids in needs, commands' arguments)
    memo = {} if memo is None else memo
    for expression, base in found:
        reads = memo.get(expression)
        if reads is None:
            reads = memo[expression] = _reads(parse_in(expression, source=text, base=base))
        yield from reads


def _reads(expression: Expression) -> Reads:
    paths = sorted(expression.references())
    return [(p[0], p[1]) for p in paths if len(p) >= 2 and p[0] in ("steps", "inputs")]


def load_pipeline(
    path: Path,
    *,
    known_commands: Container[str] | None = None,
    pipelines: Mapping[str, Collection[str]] | None = None,
) -> Pipeline:
    """Load and validate one file; :class:`PipelineValidationError` lists what is wrong."""
    return validate(load_file(path), known_commands=known_commands, pipelines=pipelines)


def validate(
    document: LoadedDocument,
    *,
    known_commands: Container[str] | None = None,
    pipelines: Mapping[str, Collection[str]] | None = None,
) -> Pipeline:
    """The pipeline a loaded file describes, or every problem with it.

    ``known_commands``: the registry's command names (``None`` skips that check; an
    iterable one also gives suggestions). ``pipelines``: each other pipeline's name -> the
    names of the pipelines it uses (see :func:`pipelines_used`), to find circles.
    """
    problems: list[Problem] = []
    pipeline: Pipeline | None = None
    with collection_paused():  # a large file's models and expressions, all kept to the end
        try:
            pipeline = Pipeline.model_validate(document.data)
        except ValidationError as exc:
            problems.extend(_model_problems(document, exc.errors()))
        problems.extend(_GraphCheck(document, known_commands, pipelines or {}).problems())
    if problems or pipeline is None:
        problems.sort(key=lambda p: (p.line, p.column))
        raise PipelineValidationError(tuple(problems))
    return pipeline


def pipelines_used(pipeline: Pipeline) -> frozenset[str]:
    """The names of the pipelines a pipeline's steps use (``uses: {pipeline: NAME}``)."""
    return frozenset(name for s in pipeline.steps if (name := used_pipeline(s.uses)) is not None)


def _model_problems(document: LoadedDocument, errors: Iterable[ErrorDetails]) -> Iterator[Problem]:
    wrong: dict[PathKey, list[str]] = {}  # a union's members each report: one problem
    for error in errors:
        path = _data_path(document.data, error["loc"])
        if error["type"] == "extra_forbidden":
            path = (*_data_path(document.data, error["loc"][:-1]), error["loc"][-1])
            yield _problem(document, path, _unknown_key(path), key=True)
        elif error["type"] == "value_error":  # our own validators: their text says the fix
            yield _problem(document, path, str(error.get("ctx", {}).get("error", error["msg"])))
        elif error["type"] == "missing":
            name = error["loc"][-1]
            yield _problem(document, path, f"the key {name!r} is required here; add it")
        else:
            got = error.get("input")
            shown = repr(got) if isinstance(got, str | int | float | bool) else type(got).__name__
            shown = shown if len(shown) <= 60 else shown[:57] + "..."  # a 1 MB value stays out
            messages = wrong.setdefault(path, [f"(it is {shown}); change the value"])
            messages.insert(-1, error["msg"])
    for path, messages in wrong.items():
        yield _problem(document, path, " or ".join(messages[:-1]) + " " + messages[-1])


def _data_path(data: Any, loc: tuple[int | str, ...]) -> PathKey:
    """The longest prefix of pydantic's location that exists in the data (union tags and
    type names such as ``str`` or ``list[...]`` are not keys of the file, and are skipped)."""
    path: list[str | int] = []
    for part in loc:
        in_mapping = isinstance(data, dict) and part in data and part not in UNION_TAGS
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_mapping or in_list):
            continue
        data = data[part]
        path.append(part)
    return tuple(path)


def _unknown_key(path: PathKey) -> str:
    general = tuple(
        "*" if isinstance(part, int) or (index == 1 and path[0] == "inputs") else part
        for index, part in enumerate(path[:-1])
    )
    valid = KEYS_AT.get(general, ())
    key = str(path[-1])
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(valid)}"
    return f"unknown key {key!r}; {hint}"


def _problem(
    document: LoadedDocument, path: PathKey, message: str, *, key: bool = False
) -> Problem:
    line, column = document.position(path, key=key)
    return Problem(document.file, line, column, dotted(path), message)


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _GraphCheck:
    """The checks that need the whole file: ids, needs, references, uses."""

    def __init__(
        self,
        document: LoadedDocument,
        known_commands: Container[str] | None,
        pipelines: Mapping[str, Collection[str]],
    ) -> None:
        self.document = document
        self.known_commands = known_commands
        self.pipelines = pipelines
        raw = document.data.get("steps")
        self.steps = (
            [s if isinstance(s, dict) else {} for s in raw] if isinstance(raw, list) else []
        )
        self.found: list[Problem] = []
        self.index: dict[str, int] = {}  # step id -> its first position in the file
        self.needs: list[list[int]] = []
        self.reads: dict[str, Reads] = {}  # see references()

    def problems(self) -> list[Problem]:
        self._ids()
        self._needs()
        cyclic = self._cycles()
        self._references(self._upstream(cyclic))
        self._uses()
        return self.found

    def add(self, path: PathKey, message: str) -> None:
        self.found.append(_problem(self.document, path, message))

    def _ids(self) -> None:
        for number, step in enumerate(self.steps):
            step_id = step.get("id")
            if not isinstance(step_id, str):
                continue
            if step_id in self.index:
                line = self.document.position(("steps", self.index[step_id], "id"))[0]
                message = f"duplicate step id {step_id!r} (first on line {line}); rename one"
                self.add(("steps", number, "id"), message)
            else:
                self.index[step_id] = number

    def _needs(self) -> None:
        for number, step in enumerate(self.steps):
            raw = step.get("needs")
            named = [raw] if isinstance(raw, str) else raw
            if named is None:  # after the previous step
                self.needs.append([number - 1] if number else [])
                continue
            edges = []
            for slot, name in enumerate(named if isinstance(named, list) else []):
                path = ("steps", number, "needs") + ((slot,) if isinstance(raw, list) else ())
                if not isinstance(name, str):
                    continue  # the model pass reports the type
                if name not in self.index:
                    known = _suggest(name, self.index)
                    self.add(path, f"needs the unknown step {name!r}{known}; use a step's id")
                elif self.index[name] == number:
                    self.add(path, f"step {name!r} needs itself; remove it from its needs")
                else:
                    edges.append(self.index[name])
            self.needs.append(edges)

    def _cycles(self) -> set[int]:
        """Report each cycle once (``a -> b -> a``); return the steps on or after one."""
        state = [0] * len(self.steps)  # 0 new, 1 on the current path, 2 done
        on_cycle: set[int] = set()
        for start in range(len(self.steps)):
            if state[start]:
                continue
            path, iterators = [start], [iter(self.needs[start])]
            state[start] = 1
            while iterators:
                nxt = next(iterators[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    iterators.pop()
                elif state[nxt] == 1:
                    self._report_cycle(path[path.index(nxt) :])
                    on_cycle.update(path[path.index(nxt) :])
                elif state[nxt] == 0:
                    state[nxt] = 1
                    path.append(nxt)
                    iterators.append(iter(self.needs[nxt]))
        return on_cycle

    def _report_cycle(self, members: list[int]) -> None:
        # ``members`` runs from a step to one it needs, to one that one needs...
        names = [str(self.steps[m].get("id")) for m in members]
        circle = " -> ".join([*names, names[0]])
        message = f"the steps' needs form a cycle {circle}; remove one of these needs"
        self.add(("steps", members[0], "needs"), message)

    def _upstream(self, cyclic: set[int]) -> list[int | None]:
        """Each step's ancestors as a bit set (bit i: step i); None for steps in a cycle."""
        ancestors: list[int | None] = [None] * len(self.steps)
        pending = [len(edges) for edges in self.needs]
        dependants: list[list[int]] = [[] for _ in self.steps]
        for number, edges in enumerate(self.needs):
            for need in edges:
                dependants[need].append(number)
        ready = [n for n, count in enumerate(pending) if count == 0 and n not in cyclic]
        while ready:
            number = ready.pop()
            bits = 0
            for need in self.needs[number]:
                bits |= (ancestors[need] or 0) | (1 << need)
            ancestors[number] = bits
            for after in dependants[number]:
                pending[after] -= 1
                if pending[after] == 0 and after not in cyclic:
                    ready.append(after)
        return ancestors

    def _references(self, ancestors: list[int | None]) -> None:
        inputs = self.document.data.get("inputs")
        declared = set(inputs) if isinstance(inputs, dict) else set()
        for number, step in enumerate(self.steps):
            for path, text, whole in _strings(step, ("steps", number)):
                for context, name in self._read(path, text, whole):
                    message = self._reference_problem(context, name, number, ancestors, declared)
                    if message:
                        self.add(path, message)
        outputs = self.document.data.get("outputs")
        for path, text, whole in _strings(outputs, ("outputs",)):
            for context, name in self._read(path, text, whole):
                message = self._reference_problem(context, name, None, ancestors, declared)
                if message:
                    self.add(path, message)

    def _read(self, path: PathKey, text: str, whole: bool) -> Reads:
        """What the string's expressions read; a malformed one is a problem of its own."""
        try:
            return list(references(text, whole_expression=whole, memo=self.reads))
        except PipelineExpressionError as exc:
            self.add(path, exc.user_message)
            return []

    def _reference_problem(
        self,
        context: str,
        name: str,
        number: int | None,
        ancestors: list[int | None],
        declared: set[str],
    ) -> str | None:
        if context == "inputs":
            if name in declared:
                return None
            return f"inputs.{name} is not declared{_suggest(name, declared)}; add it to inputs"
        if name not in self.index:
            return f"steps.{name} names no step{_suggest(name, self.index)}; use a step's id"
        target = self.index[name]
        if number is None:
            return None  # outputs are read after the whole run
        if target == number:
            return f"step {name!r} cannot read its own result; use an earlier step's"
        bits = ancestors[number]
        if bits is None or bits >> target & 1:
            return None  # upstream, or on a cycle (already reported)
        me = self.steps[number].get("id")
        return (
            f"steps.{name} is not upstream of step {me!r}, so it may not have run yet; "
            f"add {name!r} to the needs of {me!r}"
        )

    def _uses(self) -> None:
        me = self.document.data.get("name")
        for number, step in enumerate(self.steps):
            uses, path = step.get("uses"), ("steps", number, "uses")
            used = used_pipeline(uses)
            if used is not None:
                self._pipeline_use(
                    used, me, (*path, "pipeline") if isinstance(uses, dict) else path
                )
            elif (
                isinstance(uses, str)
                and self.known_commands is not None
                and (uses not in self.known_commands)
            ):
                hint = (
                    _suggest(uses, self.known_commands)
                    if isinstance(self.known_commands, Iterable)
                    else ""
                )
                message = f"unknown command {uses!r}{hint}; `logomesh commands` lists them"
                self.add(path, message)

    def _pipeline_use(self, used: str, me: object, path: PathKey) -> None:
        if used == me:
            self.add(path, f"the pipeline uses itself ({me} -> {me}); use another pipeline")
            return
        if used not in self.pipelines:
            hint = _suggest(used, self.pipelines)
            self.add(path, f"unknown pipeline {used!r}{hint}; name a pipeline of the workspace")
            return
        circle = _path_to(self.pipelines, used, str(me))
        if circle is not None:
            chain = " -> ".join([str(me), *circle])
            self.add(path, f"the pipelines use each other in a circle ({chain}); break it")


def _path_to(uses: Mapping[str, Collection[str]], start: str, goal: str) -> list[str] | None:
    """A chain of pipeline names from ``start`` to ``goal`` through ``uses``, or None."""
    parents: dict[str, str | None] = {start: None}
    queue = [start]
    for name in queue:  # breadth first: the shortest circle is the clearest to read
        for used in uses.get(name, ()):
            if used == goal:
                chain, at = [goal], name
                while True:
                    chain.append(at)
                    parent = parents[at]
                    if parent is None:
                        break
                    at = parent
                return chain[::-1]
            if used not in parents:
                parents[used] = name
                queue.append(used)
    return None


_NAMES = frozenset({"id", "uses"})


def _strings(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str, bool]]:
    """Every string under a value that may read a context, with its path: an ``if:`` (an
    expression as a whole) or one with ``${{``. Others (ids in needs...) read nothing."""
    stack = [(value, path)]
    while stack:
        current, at = stack.pop()
        if isinstance(current, str):
            condition = len(at) == 3 and at[2] == "if"
            if condition or "${{" in current:
                yield at, current, condition
        elif isinstance(current, dict):
            step_level = len(at) == 2 and at[0] == "steps"  # its id and uses are no templates
            stack.extend(
                (v, (*at, k)) for k, v in current.items() if not (step_level and k in _NAMES)
            )
        elif isinstance(current, list):
            stack.extend((v, (*at, i)) for i, v in enumerate(current))
