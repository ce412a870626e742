"""What a chat client offers while a person types: command names, argument keys, pipelines.

Discord asks the bot for choices on every keystroke of an autocompleted option and shows
nothing if the answer is late, so these functions read only what the engine holds in memory
(the registry, the policy, the pipeline catalogue): no database, no model, no plugin call.
They offer only what this person may run (``Engine.permits``, as the editor's command list
does), so the list is never a menu of refusals; the engine still decides when they run it.

A choice has a ``label`` (what the person reads) and a ``value`` (what the option receives);
both are capped at :data:`MAX_CHARS` and a list at :data:`MAX_CHOICES`, Discord's limits,
which are also narrow enough for any other platform's menus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bots.chat.message import ChatUser

if TYPE_CHECKING:
    from logomesh.commands.models import CommandSpec
    from logomesh.commands.values import Identity
    from logomesh.engine import Engine

MAX_CHOICES = 25
MAX_CHARS = 100
PIPELINE_PREFIX = "pipeline."
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of an autocomplete list."""

    label: str
    value: str


def command_choices(engine: Engine, user: ChatUser, typed: str) -> list[Choice]:
    """The commands ``user`` may run whose names match ``typed`` (prefix matches first)."""
    identity = _identity(engine, user)
    specs = [spec for spec in engine.registry if engine.permits(identity, spec)]
    ranked = _ranked(specs, typed.strip().lower(), key=lambda spec: spec.name)
    return _capped(_labelled(spec.name, spec.summary) for spec in ranked)


def pipeline_choices(engine: Engine, user: ChatUser, typed: str) -> list[Choice]:
    """The valid pipelines ``user`` may run whose names match ``typed``."""
    identity = _identity(engine, user)
    shown: list[tuple[str, str]] = []
    for entry in engine.pipelines.valid():
        spec = _spec(engine, PIPELINE_PREFIX + (entry.name or ""))
        if entry.name and spec is not None and engine.permits(identity, spec):
            shown.append(
                (entry.name, entry.description.splitlines()[0] if entry.description else "")
            )
    wanted = typed.strip().lower().removeprefix(PIPELINE_PREFIX)
    ranked = _ranked(shown, wanted, key=lambda pair: pair[0])
    return _capped(_labelled(name, summary) for name, summary in ranked)


def argument_choices(engine: Engine, user: ChatUser, command: str, typed: str) -> list[Choice]:
    """``typed`` (the ``key=value ...`` words so far) followed by each argument key of
    ``command`` not assigned yet, as ``"<typed> key="``; nothing while a value is being
    typed, or for a command ``user`` may not run (nothing to offer them)."""
    spec = _spec(engine, command.strip())
    if spec is None or not engine.permits(_identity(engine, user), spec):
        return []
    words = typed.split()
    partial = "" if not words or typed[-1:].isspace() else words.pop()
    if "=" in partial:
        return []  # a value is being typed: no key to offer
    assigned = {word.partition("=")[0] for word in words if "=" in word}
    properties = spec.args_model.model_json_schema().get("properties", {})
    lead = " ".join(words) + " " if words else ""
    choices = []
    for key in sorted(properties):
        if key in assigned or not key.startswith(partial):
            continue
        value = f"{lead}{key}="
        if len(value) <= MAX_CHARS:
            choices.append(Choice(_short(f"{value}  ({_hint(properties[key])})"), value))
    return choices[:MAX_CHOICES]


def _identity(engine: Engine, user: ChatUser) -> Identity:
    return engine.identities.resolve(user.actor)


def _spec(engine: Engine, name: str) -> CommandSpec | None:
    return engine.registry.get(name) if name in engine.registry else None


def _ranked(items: Iterable[T], typed: str, *, key: Callable[[T], str]) -> list[T]:
    """Names starting with ``typed`` first, then those containing it, each alphabetical."""
    starting, containing = [], []
    for item in items:
        name = key(item).lower()
        if name.startswith(typed):
            starting.append(item)
        elif typed in name:
            containing.append(item)
    return sorted(starting, key=key) + sorted(containing, key=key)


def _labelled(name: str, summary: str) -> Choice | None:
    if len(name) > MAX_CHARS:
        return None  # a value cannot be cut: the option would receive another name
    return Choice(_short(f"{name} — {summary}" if summary else name), name)


def _capped(choices: Iterable[Choice | None]) -> list[Choice]:
    return [choice for choice in choices if choice is not None][:MAX_CHOICES]


def _hint(schema: dict[str, Any]) -> str:
    """``integer, default 20``: the key's type (``str/null`` for an optional one)."""
    kinds = [schema.get("type")] + [part.get("type") for part in schema.get("anyOf", [])]
    hint = "/".join(str(kind) for kind in kinds if kind) or "value"
    if "default" in schema:
        hint += f", default {schema['default']!r}"
    return hint


def _short(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
