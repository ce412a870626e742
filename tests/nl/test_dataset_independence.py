"""The labelled sets must test the interpreter, not echo the examples it was built from.

A request counts as a near-duplicate of an example when, once both are normalised (typos
corrected, case folded, quotes and punctuation dropped, fillers such as "please" and "me"
removed), they share at least 80% of their words (Jaccard similarity of the word sets).
"""

from __future__ import annotations

from logomesh.engine import Engine
from logomesh.nl.evaluation import Case, load_cases, near_duplicates
from logomesh.nl.interpreter import phrasings
from tests.nl.conftest import DATA, HELDOUT

EXAMPLES = [
    ("search.code", "search for TODO"),
    ("audit.query", "show the audit log"),
    ("git.current_branch", "which branch am I on"),
    ("db.restore", "db restore"),
]


def _case(text: str) -> Case:
    return Case(text, None, {})


def test_rewordings_of_an_example_are_near_duplicates() -> None:
    """Quotes, case, punctuation, fillers, a typo or word order do not make a request new."""
    rewordings = [
        'search for "TODO"',
        "Search for TODO!",
        "please show me the audit log",
        "which brnach am i on?",
        "restore db",
    ]
    found = near_duplicates([_case(t) for t in rewordings], EXAMPLES)
    assert [d.text for d in found] == rewordings
    assert found[0].example == "search for TODO" and found[0].command == "search.code"


def test_a_request_phrased_independently_is_not_a_near_duplicate() -> None:
    independent = ["grep the repository for TODO markers", "who touched the audit records"]
    assert near_duplicates([_case(t) for t in independent], EXAMPLES) == []


def test_no_labelled_request_is_a_near_duplicate_of_a_command_example(
    nl_engine: Engine,
) -> None:
    examples = [
        (spec.name, phrase)
        for spec in nl_engine.registry
        if not spec.name.startswith("nl.")
        for phrase in phrasings(spec)
    ]
    for path in (DATA, HELDOUT):
        found = near_duplicates(load_cases(path), examples)
        assert found == [], f"{path.name}:\n" + "\n".join(map(str, found))
