"""Counted nouns: one rule for every message (issue 18, item 10: "1 notes", "1 plugins")."""

from __future__ import annotations

import pytest

from logomesh.plural import plural, verb


@pytest.mark.parametrize(
    ("count", "word", "expected"),
    [
        (1, "note", "1 note"),
        (0, "note", "0 notes"),
        (2, "audit record", "2 audit records"),
        (1, "plugin", "1 plugin"),
        (3, "match", "3 matches"),
        (2, "remote branch", "2 remote branches"),
        (2, "entry", "2 entries"),
        (2, "key", "2 keys"),
        (1, "box", "1 box"),
        (2, "box", "2 boxes"),
    ],
)
def test_plural_follows_the_count(count: int, word: str, expected: str) -> None:
    assert plural(count, word) == expected


def test_an_irregular_plural_is_given() -> None:
    assert plural(2, "person", "people") == "2 people"
    assert plural(1, "person", "people") == "1 person"


def test_the_verb_agrees() -> None:
    assert verb(1, "is", "are") == "is"
    assert verb(0, "is", "are") == "are"
