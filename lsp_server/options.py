"""What the editor tells the server about itself: ``initializationOptions`` and the
``logomesh`` section of ``workspace/configuration``.

The same keys in both places (an extension passes its settings at start and again when they
change). Each value is checked here, so a typo gets a message naming the key and what it
accepts instead of a silently ignored setting; a bad key is left out, and the rest applies.

Only settings an editor may choose for its user are read: the mode, the database URL, the
models per purpose, and whether the editor has trusted the workspace (VS Code's Workspace
Trust). Security settings (roles, identities, audit keys) are never taken from an editor:
they live in the user's config file, like for every adapter (docs/trust.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from logomesh.commands.values import Mode

# The model purposes an editor may point elsewhere (logomesh.llm.settings.Purpose).
MODEL_PURPOSES = ("chat", "code_actions", "nl")
KNOWN_KEYS = (
    "mode",
    "databaseUrl",
    "models",
    "trusted",
    "diagnostics",
    "lintDebounceMs",
    "showResults",
    "notifications",
)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    mode: str | None = None
    database_url: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    # None: ask the user's trust store (``logomesh trust``).
    trusted: bool | None = None
    diagnostics: bool = True
    lint_debounce_ms: int = 300
    # A ``window/showMessage`` summary of each result; an extension that renders results
    # itself (the VS Code one) turns it off.
    show_results: bool = True
    # LogoMesh's own status notifications (engine ready or failed, approvals changed), for
    # an extension that shows them (lsp_server.features.status); other clients get none.
    # None: not said (a configuration answer without it keeps what initialize said).
    notifications: bool | None = None

    def flags(self) -> dict[str, Any]:
        """The settings layer these options make, as command-line flags would."""
        flags: dict[str, Any] = {}
        if self.mode is not None:
            flags["mode"] = self.mode
        if self.database_url is not None:
            flags["database"] = {"url": self.database_url}
        if self.models:
            flags["llm"] = {"defaults": dict(self.models)}
        return flags

    def engine_key(self) -> tuple[Any, ...]:
        """What an engine is built from: a change rebuilds the engines, anything else not."""
        return (self.mode, self.database_url, tuple(sorted(self.models.items())), self.trusted)


def parse_options(raw: Any, where: str) -> tuple[ClientOptions, list[str]]:
    """Options from ``raw`` and, for each key that was left out, why and how to fix it.

    ``where`` names the place for messages ("initializationOptions"). A ``logomesh`` key
    holding the section is unwrapped, since clients send either shape.
    """
    if raw is None:
        return ClientOptions(), []
    if isinstance(raw, Mapping) and isinstance(raw.get("logomesh"), Mapping):
        raw, where = raw["logomesh"], f"{where}.logomesh"
    if not isinstance(raw, Mapping):
        return ClientOptions(), [f"{where} must be an object, got {type(raw).__name__}."]
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        parse = _PARSERS.get(key)
        if parse is None:
            problems.append(
                f"{where}.{key} is not a LogoMesh setting (known: {', '.join(KNOWN_KEYS)})."
            )
            continue
        try:
            values.update(parse(value))
        except ValueError as exc:
            problems.append(f"{where}.{key}: {exc}")
    return ClientOptions(**values), problems


def _mode(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    modes = [str(mode) for mode in Mode]
    if value not in modes:
        raise ValueError(f"{value!r} is not a mode; use one of {', '.join(modes)}.")
    return {"mode": value}


def _database_url(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if not isinstance(value, str) or "://" not in value:
        raise ValueError(f"{value!r} is not a database URL (for example sqlite:///path/db.sqlite).")
    return {"database_url": value}


def _models(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(
            'must be an object of purpose -> model name, e.g. {"code_actions": "my-model"}.'
        )
    models: dict[str, str] = {}
    for purpose, name in value.items():
        if purpose not in MODEL_PURPOSES:
            raise ValueError(
                f"{purpose!r} is not a model purpose; use {', '.join(MODEL_PURPOSES)}."
            )
        if not isinstance(name, str) or not name:
            raise ValueError(f"the model for {purpose!r} must be a model name (logomesh llm list).")
        models[purpose] = name
    return {"models": models}


def _trusted(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}.")
    return {"trusted": value}


def _flag(key: str) -> Callable[[Any], dict[str, Any]]:
    def parse(value: Any) -> dict[str, Any]:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}.")
        return {key: value}

    return parse


def _debounce(value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60_000:
        raise ValueError(f"must be a whole number of milliseconds from 0 to 60000, got {value!r}.")
    return {"lint_debounce_ms": value}


_PARSERS = {
    "mode": _mode,
    "databaseUrl": _database_url,
    "models": _models,
    "trusted": _trusted,
    "diagnostics": _flag("diagnostics"),
    "lintDebounceMs": _debounce,
    "showResults": _flag("show_results"),
    "notifications": _flag("notifications"),
}
