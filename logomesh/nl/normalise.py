"""Making a request easier to match before it is embedded.

Three small, general steps, each applied to a request and to every example phrasing alike:
the specifics (file paths, commit ids, quoted strings) become placeholders, because "lint
src/app.py" is about linting, not about a file that happens to be named; misspelt words are
corrected against the vocabulary of all phrasings ("brnach" -> "branch"); and the words of a
command's own name count as evidence for it, a small bonus the interpreter adds to the
similarity.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from logomesh.nl.extraction import Extracted

_WORD = re.compile(r"[A-Za-z][A-Za-z']+")
# Words too common to correct towards or away from; typos of these are rare and harmless.
_COMMON = frozenset(
    (
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "from",
        "by",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "done",
        "has",
        "have",
        "had",
        "any",
        "all",
        "some",
        "please",
        "can",
        "could",
        "would",
        "should",
        "will",
        "just",
        "now",
        "show",
        "tell",
        "give",
        "get",
        "let",
        "make",
    )
)
NAME_BONUS = 0.06


def with_placeholders(text: str, found: Extracted) -> str:
    """Replace what is specific to this request with words that say what kind of thing it is."""
    for quoted in found.quoted:
        for quote in ('"', "'", "`", "\u201c"):
            text = text.replace(f"{quote}{quoted}", " something ").replace(quoted, " something ")
    # Only spelled-out paths: a bare word that happens to name a folder ("tests") is a word.
    spelled = [p for p in found.paths if "/" in p or re.search(r"\.\w+$", p)]
    for path in sorted(spelled, key=len, reverse=True):
        kind = "a file" if re.search(r"\.\w+$", path) else "a folder"
        text = re.sub(rf"(?<![\w/.]){re.escape(path)}(?![\w/])", f" {kind} ", text)
    if found.since_ref:
        # "since main", "since v1.2", "since the release branch" ask the same question; the
        # ref's own name ("main" is also in "am I on main") would only blur it.
        text = re.sub(
            rf"\bsince\s+(?:the\s+)?(?:(?:branch|tag|commit)\s+)?{re.escape(found.since_ref)}"
            r"(?:\s+(?:branch|tag)\b)?",
            " since an earlier version ",
            text,
            flags=re.IGNORECASE,
        )
    for ref in found.refs:
        if re.fullmatch(r"[0-9a-f]{7,40}|HEAD[~^]\d*.*", ref):
            text = re.sub(rf"(?<!\w){re.escape(ref)}(?!\w)", " a commit ", text)
    return " ".join(text.split())


class Vocabulary:
    """The words of every phrasing, used to correct typos in requests."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.words = sorted({w.lower() for p in phrases for w in _WORD.findall(p)} - _COMMON)
        self._known = set(self.words) | _COMMON

    def correct(self, text: str) -> str:
        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            lowered = word.lower()
            if len(lowered) < 4 or lowered in self._known:
                return word
            close = difflib.get_close_matches(lowered, self.words, n=1, cutoff=0.8)
            return close[0] if close else word

        return _WORD.sub(fix, text)


def name_words(command: str) -> frozenset[str]:
    """``git.current_branch`` -> {git, current, branch}, with simple plural forms."""
    parts = re.split(r"[._]", command.lower())
    return frozenset(p for part in parts if part for p in (part, part.rstrip("s")))


def name_bonus(text: str, command: str) -> float:
    """A bonus per word of the command's name the request uses ("diff" also counts for
    "different": a longer word starting with a name word of four letters or more)."""
    words = {w.lower() for w in _WORD.findall(text)}
    matched = {
        part
        for part in name_words(command)
        if part in words or (len(part) >= 4 and any(w.startswith(part) for w in words))
    }
    return NAME_BONUS * min(2, len({p.rstrip("s") for p in matched}))
