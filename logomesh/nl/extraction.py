"""Pulling argument values out of free text: paths, refs, counts, quoted strings, ages, names.

The embedding model chooses *which* command; it cannot read "the last 5 commits" as
``count=5``. Extraction is deliberately plain: patterns people type (quotes, file paths,
branch names, "since main", "by alice", "2h") found with regular expressions and checked
against the workspace, then offered to the command's argument model by field name. Whatever
it proposes is still validated by that model and authorised by the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'|`([^`]+)`|“([^”]+)”")
_PATH_LIKE = re.compile(
    r"(?<![\w@])((?:~?/|\.{1,2}/)?[\w.-]+(?:/[\w.-]+)+/?|[\w-]+\.(?:py|pyi|ts|tsx|js|jsx|md|rst|"
    r"toml|json|jsonl|yaml|yml|cfg|ini|txt|go|rs|java|kt|c|h|cpp|hpp|cs|rb|php|sh|sql|html|css|"
    r"lock|db|sqlite|log|csv|xml))"
    r"(?![\w/])"
)
_SHA = re.compile(r"\b[0-9a-f]{7,40}\b")
_REL_REF = re.compile(r"\b(HEAD(?:[~^]\d*)*|[\w./-]+@\{\d+\})")
_REF_AFTER = re.compile(
    r"\b(?:since|against|from|vs\.?|versus|compared to|relative to|on|of|in|branch|to|"
    r"commit|ref)\s+(?:the\s+)?(?:branch\s+)?([A-Za-z0-9][\w./-]*)",
    re.IGNORECASE,
)
_WELL_KNOWN_REFS = frozenset({"main", "master", "develop", "dev", "trunk", "head", "origin/main"})
# "since main", "since the release branch", "since tag v1.2", "since v1.2": the starting
# point of a question about what happened after it. Only a word that is a ref by its shape
# (well known, a version, a hash, HEAD~N, origin/...) or by what surrounds it ("the X
# branch", "tag X") counts, so "since yesterday" and "since last week" stay ages.
_SINCE = re.compile(
    r"\bsince\s+(?:the\s+)?(?P<kind_before>(?:branch|tag|commit)\s+)?"
    r"(?P<ref>[A-Za-z0-9][\w./~^-]*?)[.?!,]*(?P<kind_after>\s+(?:branch|tag)\b)?(?=\s|$|[?!,])",
    re.IGNORECASE,
)
_VERSION = re.compile(r"v?\d+(?:\.\d+)+(?:[-+][\w.]+)?", re.IGNORECASE)
_NOT_REFS = frozenset({"i", "we", "you", "it", "then", "when", "last", "this", "that", "my"})
_NUMBER = re.compile(r"(?<![\w.~^-])(\d{1,5})(?![\w.])")
_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twenty": 20, "fifty": 50, "hundred": 100,
}  # fmt: skip
_LINE_RANGE = re.compile(r"\blines?\s+(\d+)\s*(?:-|\u2013|to|through|until)\s*(\d+)", re.IGNORECASE)
_AGE = re.compile(
    r"\b(?:(?:in\s+the\s+)?(?:last|past)\s+)?(\d+)\s*(s|sec|secs|seconds?|m|mins?|minutes?|"
    r"h|hrs?|hours?|d|days?|w|weeks?)\b",
    re.IGNORECASE,
)
_AGE_WORDS = {
    "today": "24h", "yesterday": "2d", "this week": "7d", "last week": "14d",
    "last hour": "1h", "past hour": "1h", "last month": "30d", "this month": "30d",
}  # fmt: skip
_ACTOR = re.compile(
    r"\b(?:by|did|user|from user|actor)\s+@?([a-z][\w.-]{1,40})\b|"
    r"\bwhat\s+(?:has\s+|did\s+)?@?([a-z][\w.-]{1,40})\s+(?:do|done|run|ran)\b",
    re.IGNORECASE,
)
_NOT_NAMES = frozenset({"i", "me", "we", "you", "the", "a", "it", "someone", "anyone", "who"})
_SEARCH_AFTER = re.compile(
    r"\b(?:search(?:\s+(?:the\s+|my\s+)?(?:code|source|sources|repo|project|files))?\s+for|"
    r"grep(?:\s+for)?|find|look\s+for|locate)"
    r"(?:\s+(?:all\s+)?(?:usages?|occurrences|references|mentions?|uses)\s+(?:of|to))?"
    r"\s+(.+?)(?:\s+in\s+(?:the\s+)?\S+)?\s*[?.!]*$",
    re.IGNORECASE,
)
_DURATION_UNITS = {"s": "s", "sec": "s", "m": "m", "min": "m", "h": "h", "hr": "h", "d": "d"}


@dataclass(frozen=True)
class Extracted:
    """Everything extraction found in one request; the interpreter picks per field."""

    quoted: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    # The ref a "since X" starts from; the commits after it are the range ``X..HEAD``.
    since_ref: str | None = None
    numbers: list[int] = field(default_factory=list)
    line_range: tuple[int, int] | None = None
    age: str | None = None
    actor: str | None = None
    search_text: str | None = None
    question: str | None = None
    flags: frozenset[str] = frozenset()


def extract(text: str, workspace: Path | None = None) -> Extracted:
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
    unquoted = _QUOTED.sub(" ", text)
    paths = _paths(unquoted, workspace)
    line_range = _line_range(unquoted)
    since_ref = _since_ref(unquoted)
    refs = _refs(unquoted, paths)
    return Extracted(
        quoted=quoted,
        paths=paths,
        refs=[since_ref, *(r for r in refs if r != since_ref)] if since_ref else refs,
        since_ref=since_ref,
        numbers=_numbers(unquoted, line_range),
        line_range=line_range,
        age=_age(unquoted),
        actor=_actor(unquoted),
        search_text=quoted[0] if quoted else _search_text(text),
        question=quoted[0] if quoted else _question(text),
        flags=_flags(unquoted),
    )


def _paths(text: str, workspace: Path | None) -> list[str]:
    found = [m.group(1).rstrip("/") or m.group(1) for m in _PATH_LIKE.finditer(text)]
    if workspace is not None:
        # Bare words naming something that exists ("lint src", "tests in tests").
        for word in re.findall(r"(?<![\w/.-])([\w.-]+)(?![\w/])", text):
            if word not in found and len(word) > 1 and (workspace / word).exists():
                found.append(word)
    return [p for p in found if not _SHA.fullmatch(p) and not p.startswith("origin/")]


def _refs(text: str, paths: list[str]) -> list[str]:
    refs: list[str] = []
    for match in _REL_REF.finditer(text):
        refs.append(match.group(1))
    for match in _REF_AFTER.finditer(text):
        word = match.group(1).rstrip(".?!,")
        if word.lower() in _WELL_KNOWN_REFS or ("/" in word and word.startswith("origin/")):
            refs.append(word if word.lower() != "head" else "HEAD")
        elif _SHA.fullmatch(word):
            refs.append(word)
    for match in _SHA.finditer(text):
        if any(ch.isalpha() for ch in match.group(0)):
            refs.append(match.group(0))
    for word in re.findall(r"\b(main|master|develop|trunk|origin/[\w./-]+)\b", text):
        refs.append(word)
    unique = [r for r in dict.fromkeys(refs) if r not in paths]
    return unique


def _since_ref(text: str) -> str | None:
    for match in _SINCE.finditer(text):
        ref = match.group("ref")
        named = match.group("kind_before") or match.group("kind_after")
        if ref.lower() in _NOT_REFS or _AGE.fullmatch(ref) or ref.lower() in _WORD_NUMBERS:
            continue
        if (
            named
            or ref.lower() in _WELL_KNOWN_REFS
            or ref.startswith("origin/")
            or _VERSION.fullmatch(ref)
            or _SHA.fullmatch(ref)
            or _REL_REF.fullmatch(ref)
        ):
            return "HEAD" if ref.lower() == "head" else ref
    return None


def _numbers(text: str, line_range: tuple[int, int] | None) -> list[int]:
    masked = _LINE_RANGE.sub(" ", text)
    masked = _AGE.sub(" ", masked)
    numbers = [int(m.group(1)) for m in _NUMBER.finditer(masked)]
    for word in re.findall(r"[a-z]+", masked.lower()):
        if word in _WORD_NUMBERS:
            numbers.append(_WORD_NUMBERS[word])
    return numbers


def _line_range(text: str) -> tuple[int, int] | None:
    match = _LINE_RANGE.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _age(text: str) -> str | None:
    lowered = text.lower()
    for phrase, age in _AGE_WORDS.items():
        if phrase in lowered:
            return age
    for match in _AGE.finditer(text):
        unit = match.group(2).lower()
        key = unit[:3] if unit[:3] in _DURATION_UNITS else unit[:1]
        if key.startswith("w"):
            return f"{int(match.group(1)) * 7}d"
        return f"{match.group(1)}{_DURATION_UNITS.get(key, unit[:1])}"
    return None


def _actor(text: str) -> str | None:
    for match in _ACTOR.finditer(text):
        name = match.group(1) or match.group(2)
        if name and name.lower() not in _NOT_NAMES:
            return name
    return None


_WHERE_IS = re.compile(
    r"\bwhere\s+(?:is|are)\s+([\w.:-]+)\s+(?:defined|declared|used|called|set|imported)\b",
    re.IGNORECASE,
)


def _search_text(text: str) -> str | None:
    where = _WHERE_IS.search(text)
    if where:
        return where.group(1)
    match = _SEARCH_AFTER.search(text.strip())
    if not match:
        return None
    phrase = match.group(1).strip().strip("\"'`")
    phrase = re.sub(r"^(?:the\s+(?:string|word|text|pattern)\s+)", "", phrase, flags=re.I)
    return phrase or None


_ASK_PREFIX = re.compile(
    r"^\s*(?:please\s+)?(?:ask|tell|question\s+for)\s+(?:the\s+|a\s+|our\s+)?(?:local\s+)?"
    r"(?:model|llm|language\s+model|ai|assistant|gemma)\b[\s,:]*(?:(?:to|about)\s+)?",
    re.IGNORECASE,
)


def _question(text: str) -> str | None:
    """What to put to a model: the request after "ask the model (to|about)"."""
    match = _ASK_PREFIX.match(text)
    if not match:
        return None
    rest = text[match.end() :].strip()
    return rest or None


def _flags(text: str) -> frozenset[str]:
    lowered = text.lower()
    flags = set()
    if re.search(r"\b(staged|cached|index)\b", lowered):
        flags.add("staged")
    if re.search(r"\b(force|--force|-f)\b", lowered):
        flags.add("force")
    for runner in ("pytest", "npm", "cargo", "go"):
        if re.search(rf"\b{runner}\b", lowered):
            flags.add(f"runner:{runner}")
    return frozenset(flags)
