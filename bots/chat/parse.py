"""What a chat message asks for: the subcommand grammar, read into typed intents.

``/logomesh run git.log limit=5`` and ``@LogoMesh run git.log limit=5`` mean the same thing
on every platform, so the words are read here, once, into an :data:`Intent`; the dispatcher
(:mod:`bots.chat.dispatch`) turns each intent into engine requests. Words are split the way
a shell splits them (quotes group words), after the typographic quotes that chat clients
substitute for straight ones are put back.

A mention or a direct message is natural language (:class:`Do`) unless its first word is a
subcommand and the rest reads as that subcommand ("run the tests" does not: it is ``Do``).
A slash command's text always uses the grammar, and a mistake in it is a
:class:`ChatParseError` that says what was expected.

Reading audit questions ("who ran deploy this week") into ``audit.query`` filters is plain
pattern matching, like the engine's own argument extraction, and says what it understood:
the filters are shown with the answer, so a misreading is visible, never silent.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from logomesh.commands.assignments import parse_assignments
from logomesh.commands.values import Outcome, Source
from logomesh.errors import InvalidArgumentsError, LogoMeshError
from logomesh.nl.extraction import extract

SUBCOMMANDS = ("run", "do", "pipeline", "audit", "approvals", "help")
AUDIT_LIMIT_DEFAULT = 20
AUDIT_LIMIT_MAX = 10_000  # audit.query's own bound

_USAGE = (
    "`run COMMAND key=value ...`, `do <what you want, in words>`, `pipeline NAME key=value ...`, "
    '`audit last 20` / `audit who ran deploy this week` / `audit search "words"`, '
    "`approvals`, `help [COMMAND]`"
)
# Slack <@U123> or <@U123|name>, Discord <@123> or <@!123>: the bot's (or anyone's) mention.
_MENTION = re.compile(r"<@!?[A-Za-z0-9]+(?:\|[^>]*)?>")
_TYPOGRAPHIC_QUOTES = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'"}
)


class ChatParseError(LogoMeshError):
    """The words of a chat message do not read as a subcommand; the message says how to fix."""

    code = "chat.parse"


@dataclass(frozen=True, slots=True)
class Run:
    """``run COMMAND key=value ...``: one command, by name."""

    command: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Do:
    """Natural language: interpreted into a proposal (``nl.interpret``), which may run."""

    text: str


@dataclass(frozen=True, slots=True)
class Pipeline:
    """``pipeline NAME key=value``: the command ``pipeline.NAME`` with the inputs."""

    name: str
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return f"pipeline.{self.name}"


@dataclass(frozen=True, slots=True)
class Audit:
    """An audit question, as the audit command and arguments it reads as."""

    command: str  # audit.query or audit.search
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Approvals:
    """``approvals``: the pending tickets, each with its buttons."""


@dataclass(frozen=True, slots=True)
class Help:
    """``help [COMMAND]``: what this person may run, or one command in detail."""

    command: str | None = None


Intent = Run | Do | Pipeline | Audit | Approvals | Help


def parse_command_text(text: str) -> Intent:
    """A slash command's text (after ``/logomesh``) as an intent; empty text is Help."""
    text = text.translate(_TYPOGRAPHIC_QUOTES).strip()
    if not text:
        return Help()
    first, _, rest = text.partition(" ")
    word = first.lower()
    if word not in SUBCOMMANDS:
        raise ChatParseError(_unknown_subcommand(first))
    rest = rest.strip()
    if word == "do":
        if not rest:
            raise ChatParseError("`do`: say what you want after it, e.g. `do what changed?`.")
        return Do(rest)
    tokens = _split(rest, word)
    if word == "run":
        return _run(tokens)
    if word == "pipeline":
        return _pipeline(tokens)
    if word == "audit":
        return parse_audit(rest, tokens)
    if word == "approvals":
        if tokens:
            raise ChatParseError("`approvals` takes no words after it; it lists pending tickets.")
        return Approvals()
    if len(tokens) > 1:
        raise ChatParseError("`help` takes at most one command name, e.g. `help git.log`.")
    return Help(tokens[0] if tokens else None)


def parse_conversational(text: str) -> Intent:
    """A mention's or a direct message's text: the grammar if it reads as a subcommand,
    natural language otherwise. Mentions (``<@U123>``) are removed first."""
    cleaned = _MENTION.sub(" ", text).translate(_TYPOGRAPHIC_QUOTES)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        return Help()
    if cleaned.split(" ", 1)[0].lower() in SUBCOMMANDS:
        try:
            return parse_command_text(cleaned)
        except ChatParseError:
            pass  # "run the tests please": words, not the grammar
    return Do(cleaned)


def _split(text: str, subcommand: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        raise ChatParseError(
            f"`{subcommand}`: a quote is not closed in {text!r}; close it, or leave quotes out."
        ) from None


def _run(tokens: list[str]) -> Run:
    if not tokens:
        raise ChatParseError(
            "`run`: name the command after it, e.g. `run git.log limit=5` (`help` lists them)."
        )
    return Run(tokens[0], _assignments(tokens[1:], f"run {tokens[0]}"))


def _pipeline(tokens: list[str]) -> Pipeline:
    if not tokens:
        raise ChatParseError(
            "`pipeline`: name the pipeline after it, e.g. `pipeline ci strict=true`."
        )
    name = tokens[0].removeprefix("pipeline.")
    if not name:
        raise ChatParseError("`pipeline`: the pipeline's name is missing after `pipeline.`.")
    return Pipeline(name, _assignments(tokens[1:], f"pipeline {name}"))


def _assignments(tokens: list[str], where: str) -> dict[str, Any]:
    try:
        return parse_assignments(tokens)
    except InvalidArgumentsError as exc:
        raise ChatParseError(f"`{where}`: {exc.user_message}") from None


def _unknown_subcommand(word: str) -> str:
    close = difflib.get_close_matches(word.lower(), SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"Unknown subcommand `{word}`.{hint} The subcommands are: {_USAGE}."


# -- audit questions ---------------------------------------------------------------------


def parse_audit(rest: str, tokens: list[str]) -> Audit:
    """``last N``, ``search "words"``, ``key=value`` filters, or a question in words."""
    if not tokens:
        return Audit("audit.query", {"limit": AUDIT_LIMIT_DEFAULT})
    head = tokens[0].lower()
    if head == "last" and len(tokens) <= 2:
        return Audit("audit.query", {"limit": _limit(tokens[1] if len(tokens) > 1 else None)})
    if head == "search":
        query = " ".join(tokens[1:]).strip()
        if not query:
            raise ChatParseError(
                '`audit search`: say what to look for, e.g. `audit search "restarted the '
                'database"`.'
            )
        return Audit("audit.search", {"query": query})
    if all("=" in token for token in tokens):
        return Audit("audit.query", _assignments(tokens, "audit"))
    return Audit("audit.query", audit_filters(rest))


def _limit(word: str | None) -> int:
    if word is None:
        return AUDIT_LIMIT_DEFAULT
    if not word.isdigit() or not 1 <= int(word) <= AUDIT_LIMIT_MAX:
        raise ChatParseError(
            f"`audit last`: {word!r} is not a number of records from 1 to {AUDIT_LIMIT_MAX}, "
            "e.g. `audit last 20`."
        )
    return int(word)


_ACTION_AFTER = re.compile(
    r"\b(?:ran|run|runs|executed|called|used|invoked|started|approved|declined)\s+"
    r"(?:the\s+|a\s+)?`?([a-z][\w.*-]*)`?",
    re.IGNORECASE,
)
_COMMAND_NAME = re.compile(r"(?<![\w.])([a-z][\w-]*(?:\.[\w*-]+)+)(?![\w.])")
_SOURCE_AFTER = re.compile(
    r"\b(?:from|in|via|through|on|over)\s+(?:the\s+)?("
    + "|".join(s.value for s in Source)
    + r")\b",
    re.IGNORECASE,
)
_OUTCOME_WORDS = {
    "failed": Outcome.ERROR, "failures": Outcome.ERROR, "errors": Outcome.ERROR,
    "denied": Outcome.DENIED, "refused": Outcome.DENIED, "cancelled": Outcome.CANCELLED,
    "canceled": Outcome.CANCELLED, "succeeded": Outcome.OK, "successful": Outcome.OK,
}  # fmt: skip
# "last 50 records", not "last 2 hours" (an age, which extraction reads).
_LAST_N = re.compile(
    r"\b(?:last|latest|recent)\s+(\d{1,5})\b(?!\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|"
    r"hours?|d|days?|w|weeks?|months?)\b)",
    re.IGNORECASE,
)
# Words that follow "ran" without naming an action ("what did alice run today").
_NOT_ACTIONS = frozenset({
    "what", "anything", "something", "it", "this", "that", "commands", "command", "today",
    "yesterday", "recently", "last", "in", "since", "on", "from", "by", "during", "over", "past",
})  # fmt: skip


def audit_filters(text: str) -> dict[str, Any]:
    """``audit.query`` arguments read from a question; ChatParseError when none is found.

    "who ran deploy this week" -> ``action="*deploy*", since="7d"``; "failed commands from
    slack today" -> ``outcome="error", source="slack", since="24h"``; "what did alice do in
    the last 2 hours" -> ``actor="alice", since="2h"``.
    """
    filters: dict[str, Any] = {}
    action = _action(text)
    if action is not None:
        filters["action"] = action
    found = extract(text)
    bare_action = action.strip("*") if action else None
    if found.actor and found.actor.lower() != bare_action:
        filters["actor"] = found.actor
    if found.age:
        filters["since"] = found.age
    source = _SOURCE_AFTER.search(text)
    if source:
        filters["source"] = source.group(1).lower()
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _OUTCOME_WORDS:
            filters["outcome"] = str(_OUTCOME_WORDS[word])
            break
    if not filters:
        raise ChatParseError(
            f"`audit`: I found no filter in {text!r} (an action, a person, a time, a source or "
            f"an outcome). Try `audit last 20`, `audit who ran deploy this week`, or search by "
            f'meaning: `audit search "{text}"`.'
        )
    last = _LAST_N.search(text)
    filters["limit"] = _limit(last.group(1)) if last else AUDIT_LIMIT_DEFAULT
    return filters


def _action(text: str) -> str | None:
    named = _COMMAND_NAME.search(text)
    if named:
        return named.group(1)
    for match in _ACTION_AFTER.finditer(text):
        word = match.group(1).lower().rstrip(".?!,")
        if word and word not in _NOT_ACTIONS and not word.isdigit():
            return word if "*" in word else f"*{word}*"
    return None
