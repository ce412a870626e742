"""Reading a pipeline file (YAML or JSON) into plain data that remembers where each part was.

A pipeline file comes from a repository, so it is untrusted input: the loader refuses, with
the file, line and column, anything that could exhaust the machine or that YAML would read
differently from what the author meant:

- a file over :data:`MAX_FILE_BYTES` (checked before it is read whole), bytes that are not
  UTF-8 (naming the offset and line), tabs used for indentation, more than one document,
  a document that is not a mapping, nesting deeper than :data:`MAX_DEPTH`;
- **anchors and aliases, outright.** An alias is cheap to parse but expands when the data
  is built, which is how a "billion laughs" file turns 1 KB into gigabytes. A budget of
  expansions would be one more limit to get right, and a pipeline is short enough to write
  out; so ``&name`` and ``*name`` are refused wherever they appear;
- explicit tags other than ``!!str``/``!!map``/``!!seq`` (no ``!!python/...`` of any kind).

The tab check reads lines, not YAML: a line of a ``|`` block whose indentation holds a tab
is refused too (write ``"\\t"`` in a quoted string instead). JSON may use tabs freely.

Scalars follow the YAML 1.2 core schema, as GitHub Actions does: ``no``, ``on`` and ``off``
are strings, not booleans (``retry: {on: [error]}`` means what it says), and keys are always
the text written. The composer here is iterative over PyYAML's event stream (libyaml's when
present), so neither nesting nor size recurses in Python, and building the data is linear.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from logomesh.errors import PipelineValidationError, Problem

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_TAB_PROBLEMS = 5  # a file indented with tabs throughout is reported by its first lines

PathKey = tuple[str | int, ...]
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_PLAIN_TAGS = frozenset({None, "!", _STR, _MAP, _SEQ})
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE, _FALSE = frozenset({"true", "True", "TRUE"}), frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TYPED_START = frozenset("0123456789+-.~nNtTfF") | {""}
_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A file's data, with the 1-based (line, column) of each value and of each key."""

    file: str
    data: dict[str, Any]
    values: dict[PathKey, tuple[int, int]] = field(repr=False)
    keys: dict[PathKey, tuple[int, int]] = field(repr=False)

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Where ``path`` is, or else its nearest ancestor that exists (the file's start)."""
        for end in range(len(path), -1, -1):
            found = (self.keys if key else self.values).get(path[:end])
            if found is None and key:
                found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)


class _Refused(Exception):
    """Stops composing at the first thing the loader will not read (carries its Problem)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def load_file(path: Path) -> LoadedDocument:
    """Read one pipeline file; JSON when it ends in ``.json``, YAML otherwise."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _too_big(name, size)
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # it may have grown since stat
    except OSError as exc:
        problem = Problem(name, 1, 1, "", f"cannot read the file ({exc.strerror or exc})")
        raise PipelineValidationError((problem,)) from exc
    return load_bytes(data, file=name, json_format=path.suffix.lower() == ".json")


def load_bytes(data: bytes, *, file: str, json_format: bool = False) -> LoadedDocument:
    """Parse a pipeline document; raises :class:`PipelineValidationError` and nothing else."""
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(file, len(data))
    text = _decode(data, file)
    if not json_format:
        _refuse_tabs(text, file)
    # JSON is YAML for positions (tabs, JSON's whitespace, become spaces of the same width);
    # its values come from the json module, which is exact about numbers and escapes.
    composer = _Composer(file)
    with collection_paused():
        try:
            value = composer.compose(text.replace("\t", " ") if json_format else text)
        except _Refused as refused:
            raise PipelineValidationError((refused.problem,)) from None
        except yaml.YAMLError as exc:
            if not json_format:
                raise PipelineValidationError((_yaml_problem(exc, file),)) from None
            value = None  # json.loads below names the syntax error exactly
        if json_format:
            value = _json_value(text, file)
    if not isinstance(value, dict):
        kind = "empty" if value is None else f"a {type(value).__name__}"
        message = f"the document is {kind}; a pipeline is a mapping with version, name, steps"
        raise PipelineValidationError((Problem(file, 1, 1, "", message),))
    return LoadedDocument(file, value, composer.values, composer.keys)


@contextmanager
def collection_paused() -> Iterator[None]:
    """CPython's cycle collector paused while a file's data is built and checked.

    Loading and validating a 1,000-step file allocates tens of thousands of containers (the
    data, its positions, the models, the parsed expressions) that all stay alive until the
    end. None of them is garbage, yet every 700 allocations start a collection that looks at
    them again, and every few files a full one walks every object of the process: 100 ms in
    an engine's process, as long as the validation itself. Reference counting still frees
    what is dropped; a cycle made meanwhile waits for the next collection, which runs once
    after. Mercurial's ``util.nogc`` does this for the same reason. Only the call that found
    the collector on turns it back on, so nesting (and another thread's pause) is harmless.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _too_big(file: str, size: int) -> PipelineValidationError:
    message = (
        f"the file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a pipeline; "
        "split it into pipelines that use each other (uses: {pipeline: NAME})"
    )
    return PipelineValidationError((Problem(file, 1, 1, "", message),))


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        message = (
            f"byte {start} (0x{data[start]:02x}) is not UTF-8; save the file as UTF-8"
            if start < len(data)
            else "the file ends inside a UTF-8 character; save the file as UTF-8"
        )
        raise PipelineValidationError((Problem(file, line, column, "", message),)) from None


def _refuse_tabs(text: str, file: str) -> None:
    if "\t" not in text:  # the usual file: nothing to look for line by line
        return
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            message = "a tab is used for indentation; YAML needs spaces, indent with spaces"
            problems.append(Problem(file, number, indent.index("\t") + 1, "", message))
            if len(problems) == MAX_TAB_PROBLEMS:
                break
    if problems:
        raise PipelineValidationError(tuple(problems))


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    detail = getattr(exc, "problem", None) or str(exc)
    return Problem(file, line, column, "", f"this is not valid YAML ({detail}); correct it")


def _json_value(text: str, file: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"the key {key!r} appears twice in one object; keep one")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        message = f"this is not valid JSON ({exc.msg}); correct it"
        raise PipelineValidationError(
            (Problem(file, exc.lineno, exc.colno, "", message),)
        ) from None
    except (ValueError, RecursionError) as exc:  # our duplicate key, or absurd nesting
        raise PipelineValidationError((Problem(file, 1, 1, "", str(exc)),)) from None


def _scalar(event: yaml.ScalarEvent) -> Any:
    """YAML 1.2 core schema for plain scalars; quoted ones and ``!!str`` are strings."""
    text = event.value
    if not event.implicit[0]:  # quoted, or tagged (``!!str``, ``!``): its text
        return text
    if text[:1] not in _TYPED_START:  # most values: no null, bool or number starts so
        return text
    if text in _NULL:
        return None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if _INT.fullmatch(text):
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return _SPECIAL_FLOATS.get(text.lower(), text)


class _Composer:
    """Builds plain data from the event stream, one frame per open mapping or sequence."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[PathKey, tuple[int, int]] = {}
        self.keys: dict[PathKey, tuple[int, int]] = {}

    def refuse(self, event: yaml.Event, path: PathKey, message: str) -> _Refused:
        mark = event.start_mark
        return _Refused(Problem(self.file, mark.line + 1, mark.column + 1, dotted(path), message))

    def compose(self, text: str) -> Any:
        try:
            return self._compose(text, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            # libyaml stops at its own depth limit (1,000), scanning ahead of the events
            # that would reach ours; the Python parser then finds the exact place.
            if "maximum nesting depth" not in str(exc):
                raise
        self.values.clear()
        self.keys.clear()
        return self._compose(text, yaml.SafeLoader)

    def _compose(self, text: str, loader_class: Any) -> Any:
        # One loop over the events, with the common case (a scalar, or a collection that
        # starts, in a value's place) inline: a 1,000-step file has 20,000 events.
        values, keys = self.values, self.keys
        stack: list[_Frame] = []
        root: Any = None
        documents = 0
        loader = loader_class(text)
        try:
            while (event := loader.get_event()) is not None:
                scalar = isinstance(event, yaml.ScalarEvent)
                if scalar or isinstance(event, yaml.CollectionStartEvent):
                    frame = stack[-1] if stack else None
                    if frame is not None and frame.mapping and frame.key is None:
                        # the event is a mapping's key: plain text, new in the mapping
                        if (
                            not scalar
                            or event.anchor is not None
                            or event.tag not in _PLAIN_TAGS
                            or event.value in frame.container
                        ):
                            raise self._bad_key(event, frame)
                        mark = event.start_mark
                        keys[(*frame.path, event.value)] = (mark.line + 1, mark.column + 1)
                        frame.key = event.value
                        continue
                    if frame is None:
                        path: PathKey = ()
                    elif frame.key is not None:  # a mapping's value
                        path = (*frame.path, frame.key)
                    else:  # a sequence's item
                        path = (*frame.path, len(frame.container))
                    depth = len(stack)
                    if (
                        event.anchor is not None
                        or event.tag not in _PLAIN_TAGS
                        or depth >= MAX_DEPTH
                    ):
                        self._check(event, path, depth)  # refuses it, saying why
                    mark = event.start_mark
                    values[path] = (mark.line + 1, mark.column + 1)
                    if scalar:
                        value = _scalar(event)
                    else:
                        mapping = isinstance(event, yaml.MappingStartEvent)
                        value = {} if mapping else []
                        stack.append(_Frame(value, path, mapping))
                    if frame is None:
                        root = value
                    elif frame.mapping:
                        frame.container[frame.key], frame.key = value, None
                    else:
                        frame.container.append(value)
                elif isinstance(event, yaml.CollectionEndEvent):
                    stack.pop()
                elif isinstance(event, yaml.AliasEvent):
                    path = stack[-1].child() if stack else ()
                    raise self.refuse(event, path, _NO_ANCHORS)
                elif isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        message = "a second document (---); a file holds one pipeline, split it"
                        raise self.refuse(event, (), message)
        finally:
            loader.dispose()
        return root

    def _bad_key(self, event: yaml.NodeEvent, frame: _Frame) -> _Refused:
        """Why a key is refused: not plain text, an anchor or a tag, or seen before."""
        if not isinstance(event, yaml.ScalarEvent):
            return self.refuse(event, frame.path, "a key must be plain text, not a list or mapping")
        self._check(event, frame.path, 0)  # raises for an anchor or a tag
        line = self.keys[(*frame.path, event.value)][0]
        message = f"the key {event.value!r} appears twice in this mapping (first on line {line})"
        return self.refuse(event, frame.path, f"{message}; keep one")

    def _check(self, event: yaml.NodeEvent, path: PathKey, depth: int) -> None:
        if event.anchor is not None:
            raise self.refuse(event, path, _NO_ANCHORS)
        tag = getattr(event, "tag", None)
        if tag not in _PLAIN_TAGS:
            message = f"the tag {tag} is not supported; remove it (only plain data is read)"
            raise self.refuse(event, path, message)
        if depth >= MAX_DEPTH:
            message = f"nesting deeper than {MAX_DEPTH} levels; a pipeline never needs that much"
            raise self.refuse(event, path, message)


class _Frame:
    """An open mapping or sequence while composing: what is built, where, the key that
    waits for its value (None: the next event is a key)."""

    __slots__ = ("container", "key", "mapping", "path")

    def __init__(self, container: Any, path: PathKey, mapping: bool) -> None:
        self.container, self.path, self.mapping = container, path, mapping
        self.key: str | None = None

    def child(self) -> PathKey:
        """The path of the next value; in a key's place, the mapping's own."""
        if not self.mapping:
            return (*self.path, len(self.container))
        return self.path if self.key is None else (*self.path, self.key)


_NO_ANCHORS = (
    "anchors and aliases (&name, *name) are not allowed in a pipeline file "
    "(they can expand a small file without bound); write the value out"
)


def dotted(path: PathKey) -> str:
    """``("steps", 2, "needs", 0)`` -> ``steps[2].needs[0]``, as problems show paths."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
