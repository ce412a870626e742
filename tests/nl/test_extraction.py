"""Argument extraction from free text: what a request names, found without the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logomesh.nl.extraction import extract


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("show the last 5 commits", "numbers", [5]),
        ("last ten commits", "numbers", [10]),
        ("diff src/app.py against main", "paths", ["src/app.py"]),
        ("diff src/app.py against main", "refs", ["main"]),
        ("back up to /tmp/lm.db", "paths", ["/tmp/lm.db"]),
        ("show me HEAD~2", "refs", ["HEAD~2"]),
        ("what did commit deadbeef change", "refs", ["deadbeef"]),
        ("read src/utils.py lines 10-20", "line_range", (10, 20)),
        ("what did alice do in the last 2 hours", "actor", "alice"),
        ("what did alice do in the last 2 hours", "age", "2h"),
        ("show audit log for the past 3 days", "age", "3d"),
        ("everything since yesterday", "age", "2d"),
        ('search for "TODO: fix"', "search_text", "TODO: fix"),
        ("find usages of parse_config in src", "search_text", "parse_config"),
        ("where is handle_request defined", "search_text", "handle_request"),
    ],
)
def test_finds_what_the_request_names(text: str, field: str, expected: object) -> None:
    assert getattr(extract(text), field) == expected


@pytest.mark.parametrize(
    ("text", "since_ref"),
    [
        ("what changed since main?", "main"),
        ("what changed since the release branch", "release"),
        ("changes since v1.2", "v1.2"),
        ("anything new since tag build-7", "build-7"),
        ("commits since HEAD~3", "HEAD~3"),
        ("what happened since origin/main.", "origin/main"),
        ("what changed since 1a2b3c4d", "1a2b3c4d"),
        # Ages and words are not refs: "since yesterday" is an age, "since then" nothing.
        ("everything since yesterday", None),
        ("failures since last week", None),
        ("errors since 2h", None),
        ("since then", None),
        ("what changed since lunch", None),
    ],
)
def test_since_names_a_ref_only_when_it_looks_like_one(text: str, since_ref: str | None) -> None:
    found = extract(text)
    assert found.since_ref == since_ref
    if since_ref is not None:
        assert found.refs[0] == since_ref


def test_bare_words_count_as_paths_only_when_they_exist(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    assert extract("lint src", tmp_path).paths == ["src"]
    assert extract("lint docs", tmp_path).paths == []


@given(st.text(max_size=200))
def test_never_fails_on_any_text(text: str) -> None:
    """Extraction is total: any input gives an answer, never an exception."""
    found = extract(text)
    assert isinstance(found.paths, list) and isinstance(found.numbers, list)


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("ask the model what a rebase does", "what a rebase does"),
        ("Ask the LLM to explain merge conflicts", "explain merge conflicts"),
        ("please ask gemma: what is a linter?", "what is a linter?"),
        ('ask the model "why do tests flake"', "why do tests flake"),
        ("what does rebase do", None),
        ("ask", None),
    ],
)
def test_the_question_for_a_model_is_what_follows_ask_the_model(
    text: str, question: str | None
) -> None:
    assert extract(text).question == question
