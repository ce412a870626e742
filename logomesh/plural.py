"""Counted nouns in messages: "1 note", "2 notes", never "1 notes" nor "1 note(s)".

Every message that counts something (the engine's, the CLI's, the bots') says it through
:func:`plural`, so the rule lives in one place. English only, like every message.
"""

from __future__ import annotations

_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, the word in the plural unless the count is one.

    The plural is made by rule (match -> matches, entry -> entries, record -> records);
    pass ``many`` for a word the rule gets wrong. Only the last word of ``word`` changes,
    so ``plural(2, "audit record")`` is "2 audit records"."""
    return f"{count} {word if count == 1 else many or plural_of(word)}"


def plural_of(word: str) -> str:
    if word.endswith(_SIBILANT_ENDINGS):
        return word + "es"
    if word.endswith("y") and not word.endswith(("ay", "ey", "oy", "uy")):
        return word[:-1] + "ies"
    return word + "s"


def verb(count: int, one: str, many: str) -> str:
    """The verb that agrees with ``count``: ``verb(1, "is", "are")`` is "is"."""
    return one if count == 1 else many
