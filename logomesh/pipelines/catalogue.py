"""The pipelines of a workspace: found in the folders ``pipelines.paths`` names, validated
together (a pipeline may use another, so circles are found across files), and each valid
one registered as the command ``pipeline.NAME``.

A broken file is reported, never fatal: it is kept with its problems (``pipeline list``
and ``pipeline validate`` show them, a warning is logged) and the others load. So is a
pipeline whose name another file already has, or one named like a management command
(``pipeline.list``...).

Loading is synchronous: it happens once per engine, at build time, from files of at most
1 MB each (the loader's cap), the way plugin manifests are read.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logomesh.commands.values import RiskLevel
from logomesh.errors import PipelineError, PipelineValidationError, Problem
from logomesh.pipelines.files import pipeline_files, pipeline_folders
from logomesh.pipelines.loader import LoadedDocument, collection_paused, load_bytes
from logomesh.pipelines.model import (
    MANAGEMENT_VERBS,
    PIPELINE_NAME,
    Pipeline,
    Step,
    used_pipeline,
)
from logomesh.pipelines.validation import validate

if TYPE_CHECKING:
    from logomesh.commands.models import CommandSpec
    from logomesh.engine import Engine
    from logomesh.pipelines.executor import StepResult

logger = logging.getLogger(__name__)

RESERVED = MANAGEMENT_VERBS  # no pipeline may take their names


@dataclass
class Entry:
    """One pipeline file: what it holds, or what is wrong with it."""

    path: Path
    digest: str  # sha256 of the file's bytes, kept with each run
    name: str | None = None
    description: str = ""
    pipeline: Pipeline | None = None
    problems: tuple[Problem, ...] = ()
    document: LoadedDocument | None = field(default=None, repr=False)

    @property
    def valid(self) -> bool:
        return self.pipeline is not None and not self.problems


class PipelineCatalogue:
    """The pipelines one engine knows, by name."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.entries: list[Entry] = []
        # ``pipeline rerun --failed`` hands the steps to keep to the run it starts.
        self._reuse: dict[str, dict[str, StepResult]] = {}
        # Each pipeline's input names and the pipelines it uses, read from its file.
        self._inputs: dict[str, set[str]] = {}
        self._uses: dict[str, frozenset[str]] = {}

    @property
    def folders(self) -> list[Path]:
        return pipeline_folders(self.engine.settings)

    def load(self) -> None:
        """Find, read and validate every pipeline file; broken ones keep their problems."""
        with collection_paused():  # one collection after the whole workspace, not per file
            self._load()

    def _load(self) -> None:
        self.entries = [read_entry(path) for path in pipeline_files(self.folders)]
        documents = [e for e in self.entries if e.document is not None]
        _refuse_clashes(documents)
        named = [(e.name, e.document) for e in documents if e.name and e.document]
        self._uses = {name: _pipelines_used(document) for name, document in named}
        self._inputs = {name: _input_names(document) for name, document in named}
        for entry in documents:
            if not entry.problems:
                self.check(entry)
        _refuse_broken_uses(documents)
        broken = [entry.path.name for entry in self.entries if entry.problems]
        if broken:
            logger.warning("pipeline files not loaded: %s (`logomesh pipeline validate` says "
                           "why)", ", ".join(broken))  # fmt: skip

    def check_file(self, path: Path) -> Entry:
        """One file (``pipeline validate FILE``), checked as loading the workspace would."""
        entry = read_entry(self.engine.settings.workspace / path)
        if entry.document is not None and not entry.problems:
            self.check(entry)
        return entry

    def check(self, entry: Entry) -> None:
        """Validate a loaded entry against the engine's commands and the workspace's other
        pipelines: the file itself, then its steps' argument names."""
        assert entry.document is not None
        known = {spec.name for spec in self.engine.registry}
        known |= {f"pipeline.{name}" for name in self._uses}
        others = {name: used for name, used in self._uses.items() if name != entry.name}
        try:
            entry.pipeline = validate(entry.document, known_commands=known, pipelines=others)
        except PipelineValidationError as exc:
            entry.problems = exc.problems
            return
        entry.problems = tuple(_argument_problems(self.engine, entry, self._inputs))
        if entry.problems:
            entry.pipeline = None

    def valid(self) -> Iterator[Entry]:
        return (entry for entry in self.entries if entry.valid)

    def get(self, name: str) -> Entry:
        for entry in self.entries:
            if entry.name == name:
                if not entry.valid:
                    raise PipelineValidationError(entry.problems)
                return entry
        known = ", ".join(sorted(e.name for e in self.valid() if e.name)) or "none"
        raise PipelineError(
            f"No pipeline named {name!r} (valid pipelines: {known}). Pipeline files live in "
            f"{', '.join(str(f) for f in self.folders)}; `logomesh pipeline list` shows them."
        )

    def risk_of(self, pipeline: Pipeline) -> RiskLevel:
        """The highest risk among its steps' commands, through the pipelines it uses."""
        risks = (spec.risk for _, spec in self._commands_of(pipeline))
        return max(risks, default=RiskLevel.READ, key=lambda r: r.rank)

    def project_code_of(self, pipeline: Pipeline) -> str | None:
        """Why the pipeline runs the workspace's code: its first step (through the pipelines
        it uses) whose command does (``CommandSpec.runs_project_code``); None if none does.
        Each step is refused on its own anyway; this keeps a restricted workspace from
        offering a pipeline that could only fail there."""
        for step, spec in self._commands_of(pipeline):
            if spec.runs_project_code is not None:
                return f"its step {step.id} runs {spec.name}: {spec.runs_project_code}"
        return None

    def _commands_of(
        self, pipeline: Pipeline, seen: frozenset[str] = frozenset()
    ) -> Iterator[tuple[Step, CommandSpec]]:
        """Each step and its registered command, in order, through the pipelines it uses
        (each once: a cycle is the validator's to report)."""
        for step in pipeline.steps:
            name = used_pipeline(step.uses)
            if name is not None:
                inner = next((e for e in self.valid() if e.name == name), None)
                if inner is not None and inner.pipeline is not None and name not in seen:
                    yield from self._commands_of(inner.pipeline, seen | {pipeline.name})
            elif isinstance(step.uses, str) and step.uses in self.engine.registry:
                yield step, self.engine.registry.get(step.uses)

    def hand_over(self, correlation_id: str, reuse: dict[str, StepResult]) -> None:
        self._reuse[correlation_id] = reuse

    def take_over(self, correlation_id: str) -> dict[str, StepResult]:
        return self._reuse.pop(correlation_id, {})


def read_entry(path: Path) -> Entry:
    """One file read and loaded (not yet validated against the others)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = Problem(str(path), 1, 1, "", f"cannot read the file ({exc.strerror})")
        return Entry(path, "", problems=(problem,))
    entry = Entry(path, hashlib.sha256(data).hexdigest())
    try:
        entry.document = load_bytes(data, file=str(path), json_format=path.suffix == ".json")
    except PipelineValidationError as exc:
        entry.problems = exc.problems
        return entry
    raw: Any = entry.document.data
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str):
        entry.name = name
        entry.description = str(raw.get("description") or "")
    return entry


def _refuse_clashes(entries: list[Entry]) -> None:
    """Reserved names, and a name two files share: then neither runs, since which one would
    depends on how the files happen to sort."""
    by_name: dict[str, list[Entry]] = {}
    for entry in entries:
        # A malformed name is validation's to report.
        if entry.name is not None and entry.document and re.match(PIPELINE_NAME, entry.name):
            by_name.setdefault(entry.name, []).append(entry)
    for name, sharing in by_name.items():
        for entry in sharing:
            assert entry.document is not None
            line, column = entry.document.position(("name",))
            if name in RESERVED:
                message = (f"the name {name!r} is taken by the command pipeline.{name}; "
                           "rename the pipeline")  # fmt: skip
            elif len(sharing) > 1:
                others = ", ".join(str(e.path) for e in sharing if e is not entry)
                message = (f"another file, {others}, has a pipeline named {name!r}; "
                           "rename one of them")  # fmt: skip
            else:
                continue
            entry.problems = (Problem(str(entry.path), line, column, "name", message),)


def _argument_problems(
    engine: Engine, entry: Entry, inputs: Mapping[str, set[str]]
) -> Iterator[Problem]:
    """``with:`` keys the step's command does not take (when its model says which it takes:
    a plugin's command not yet started takes anything until its tools are known)."""
    assert entry.pipeline is not None and entry.document is not None
    for number, step in enumerate(entry.pipeline.steps):
        takes = _arguments_of(engine, step.uses, inputs)
        if takes is None:
            continue
        for key in step.with_:
            if key not in takes:
                path = ("steps", number, "with", key)
                line, column = entry.document.position(path, key=True)
                close = difflib.get_close_matches(key, sorted(takes), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                listed = ", ".join(sorted(takes)) or "none"
                message = f"{step.uses} takes no argument {key!r}; {hint}it takes: {listed}"
                yield Problem(str(entry.path), line, column, f"steps[{number}].with.{key}",
                              message)  # fmt: skip


def _arguments_of(
    engine: Engine, uses: object, pipelines: Mapping[str, set[str]]
) -> set[str] | None:
    """The argument names a step's command takes; None when it takes any (a plugin's, not
    yet started) or it is unknown (validation reported that)."""
    used = used_pipeline(uses)
    if used is not None:
        return pipelines.get(used)
    if not isinstance(uses, str) or uses not in engine.registry:
        return None
    model = engine.registry.get(uses).args_model
    if model.model_config.get("extra") != "forbid":
        return None
    return {info.alias or name for name, info in model.model_fields.items()}


def _refuse_broken_uses(entries: list[Entry]) -> None:
    """A pipeline that uses one that is not valid cannot run either (until none is left)."""
    changed = True
    while changed:
        changed = False
        valid = {e.name for e in entries if e.valid}
        for entry in entries:
            if not entry.valid or entry.pipeline is None or entry.document is None:
                continue
            for number, step in enumerate(entry.pipeline.steps):
                used = used_pipeline(step.uses)
                if used is not None and used not in valid:
                    path = ("steps", number, "uses", "pipeline")
                    line, column = entry.document.position(path)
                    message = (f"pipeline {used!r} is not valid, so this one cannot run; "
                               "fix that file first")  # fmt: skip
                    where = f"steps[{number}].uses.pipeline"
                    entry.problems += (Problem(str(entry.path), line, column, where, message),)
                    changed = True
                    break


def _input_names(document: LoadedDocument) -> set[str]:
    inputs = document.data.get("inputs") if isinstance(document.data, dict) else None
    return {str(name) for name in inputs} if isinstance(inputs, dict) else set()


def _pipelines_used(document: LoadedDocument | None) -> frozenset[str]:
    """The pipelines a file's steps name, read from its raw data (it may not be valid)."""
    steps = document.data.get("steps") if document and isinstance(document.data, dict) else None
    if not isinstance(steps, list):
        return frozenset()
    used = (used_pipeline(s.get("uses")) for s in steps if isinstance(s, dict))
    return frozenset(name for name in used if name is not None)
