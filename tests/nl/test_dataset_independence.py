"""The labelled set must test the interpreter, not echo the examples it was built from."""

from __future__ import annotations

from logomesh.engine import Engine
from logomesh.nl.evaluation import load_cases
from logomesh.nl.interpreter import phrasings
from tests.nl.conftest import DATA


def _key(text: str) -> str:
    return " ".join(text.lower().strip(" ?.!").split())


def test_no_labelled_request_is_a_command_example(nl_engine: Engine) -> None:
    examples = {_key(p) for spec in nl_engine.registry for p in phrasings(spec)}
    leaked = [case.text for case in load_cases(DATA) if _key(case.text) in examples]
    assert leaked == []
