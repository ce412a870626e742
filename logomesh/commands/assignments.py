"""``key=value`` words as command arguments: how every text adapter spells a call.

The CLI (``logomesh run git.log limit=5``), its shell and the chat bots (``/logomesh run
git.log limit=5``) all take a command's arguments this way, so they parse them here, once,
and a value means the same thing whichever adapter it was typed into.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from logomesh.errors import InvalidArgumentsError


def parse_assignments(tokens: Iterable[str]) -> dict[str, Any]:
    """``key=value`` words into arguments; a repeated key becomes a list.

    Values stay strings (the command's model converts them) unless they are JSON arrays or
    objects, so ``tags=["a","b"]`` works where a list is wanted.
    """
    arguments: dict[str, Any] = {}
    for token in tokens:
        key, sep, raw = token.partition("=")
        if not sep or not key:
            raise InvalidArgumentsError(
                f"Argument {token!r} is not of the form key=value (for example limit=5)."
            )
        value: Any = raw
        if raw[:1] in "[{":
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        key = key.replace("-", "_")
        if key in arguments:
            previous = arguments[key]
            arguments[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            arguments[key] = value
    return arguments
