"""The sentence an audit record is embedded as, and the query a person's words become.

The model compares meanings of short sentences, so a record is written as one:
``alice restore database /backups/x.db: ok``. Choices, each measured on
seventeen records of a dozen commands against nine queries ("who restarted the database",
"failed deploys", "migrations", "who exported the audit log"...):

- the action in words, verb first, ``db`` spelled out (``restore database``): the dotted
  name is opaque to the model, and command names are noun.verb where people say verb noun;
- no filler verb ("alice ran ..."): it only made every record more alike;
- the command's summary is *left out*: it made the texts 70 % longer (slower to embed) and
  ranked worse, because its generic words ("show", "the database") match everything;
- the outcome as a word people use (an ``error`` outcome reads ``failed``) and the error
  text without its ``[code]``, cut short;
- arguments by value (``/backups/x.db``, ``prod``), ``key=value`` only for numbers, values
  cut short, empty ones and the target's repeat dropped;
- the adapter (``cli``, ``slack``) left out: it is a filter (``source``), and the words
  "via cli" on every record only made them more alike.

Length is speed: the model's cost grows with tokens, about 300 records/s at 20 tokens and
600 at 8 on two cores, so every part above is clipped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from logomesh.storage.vectors import UnembeddedRecord

# Abbreviations in command names the model would not read as words.
_SPELLED_OUT = {"db": "database", "env": "environment", "repo": "repository", "k8s": "kubernetes"}
_OUTCOME_WORDS = {"error": "failed"}
_MAX_VALUE = 40
_MAX_ERROR = 60
_MAX_TEXT = 200
# "[command.denied] bob may not..." -> "bob may not...": the outcome word already says it.
_ERROR_CODE = re.compile(r"^\[[\w.]+\]\s*")

# "search the audit log for failed deploys" -> "failed deploys": the frame names the command
# that is already running, and its words ("audit", "log") would pull audit.* records up.
_FRAME = re.compile(
    r"^\s*(?:please\s+)?(?:search|find|look\s+(?:for|up|through)|show(?:\s+me)?|list|query)"
    r"\s+(?:in\s+|through\s+)?(?:the\s+)?(?:audit\s+)?(?:logs?|trail|records?|entries|history)?"
    r"\s*(?:for|about|on|of|mentioning|with|where)?\s+",
    re.IGNORECASE,
)


def record_text(record: UnembeddedRecord) -> str:
    """One short sentence saying who did what, to what, and how it ended."""
    parts = [f"{record.actor} {action_words(record.action)}"]
    if record.target:
        parts.append(f"on {_clip(record.target, _MAX_VALUE)}")
    arguments = _arguments(record.arguments, skip=record.target)
    if arguments:
        parts.append(arguments)
    text = " ".join(parts) + f": {_OUTCOME_WORDS.get(record.outcome, record.outcome)}"
    if record.error:
        text += f" {_clip(_ERROR_CODE.sub('', record.error), _MAX_ERROR)}"
    return _clip(text, _MAX_TEXT)


def action_words(action: str) -> str:
    """``db.restore`` -> ``restore database``: names are noun.verb, people say verb noun."""
    words = [_SPELLED_OUT.get(word.lower(), word) for word in re.split(r"[._:/-]+", action) if word]
    return " ".join(words[-1:] + words[:-1])


def query_text(query: str) -> str:
    """The words to embed for a query: its meaning, without "search the audit log for"."""
    stripped = _FRAME.sub("", query, count=1).strip()
    return stripped or query.strip()


def _arguments(canonical: str, skip: str | None) -> str:
    try:
        values: Any = json.loads(canonical)
    except ValueError:
        return _clip(canonical, _MAX_VALUE)
    if not isinstance(values, dict):
        return _clip(str(values), _MAX_VALUE)
    pairs = []
    for key, value in values.items():
        if value is None or value is False or value in ("", [], {}, skip):
            continue
        if value is True:
            pairs.append(str(key))
        elif isinstance(value, str):
            pairs.append(_clip(value, _MAX_VALUE))  # a path, branch or name says enough
        else:
            pairs.append(f"{key}={_clip(json.dumps(value, ensure_ascii=False), _MAX_VALUE)}")
    return " ".join(pairs)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
