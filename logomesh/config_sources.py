"""Where each setting came from: the layers of configuration, and errors naming the culprit.

A :class:`Layer` is one source (a file, the environment, the flags, a mode's preset) with its
values; merging keeps, for every dotted key, a description of the layer that set it last
(``/path/logomesh.toml:3``, ``env LOGOMESH_MODE``, ``flag --mode``), so ``config show`` can
say it and a bad value's error can point at the line to fix. :mod:`logomesh.config` builds
the layers; this module knows nothing of what the settings mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from logomesh.errors import ConfigError
from logomesh.layout import line_of_key

ENV_PREFIX = "LOGOMESH_"


@dataclass(frozen=True)
class Layer:
    """One source of settings: its name for people, its values, and the file it came from."""

    origin: str
    values: dict[str, Any]
    path: Path | None = None
    env_names: dict[str, str] = field(default_factory=dict)
    # The workspace's own logomesh.toml: security keys refused, code gated by trust.
    from_workspace: bool = False


def deep_merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "roles":
            deep_merge(into[key], value)
        elif isinstance(value, dict):
            into[key] = dict(value) if key == "roles" else copy_nested(value)
        else:
            into[key] = value


def copy_nested(values: dict[str, Any]) -> dict[str, Any]:
    return {k: copy_nested(v) if isinstance(v, dict) else v for k, v in values.items()}


def dotted_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "roles":
            keys.extend(dotted_keys(value, f"{dotted}."))
        else:
            keys.append(dotted)
    return keys


def describe_origin(layer: Layer, key: str) -> str:
    if layer.path is not None:
        line = line_of_key(layer.path, key)
        return f"{layer.path}:{line}" if line else str(layer.path)
    if layer.origin == "env":
        return f"env {layer.env_names.get(key, ENV_PREFIX + key.upper())}"
    if layer.origin == "flag":
        return f"flag --{key.replace('.', '-').replace('_', '-')}"
    return layer.origin


def config_error(exc: ValidationError, layers: list[Layer]) -> ConfigError:
    problems = []
    for error in exc.errors():
        dotted = ".".join(str(part) for part in error["loc"])
        origin = "defaults"
        for layer in layers:
            present = _present_prefix(layer.values, dotted)
            if present:
                origin = describe_origin(layer, present)
        got = "" if error["type"] == "extra_forbidden" else f" (got {error.get('input')!r})"
        if error["type"] == "extra_forbidden":
            hint = "unknown key; check the spelling against `logomesh config show`"
        else:
            # TOML has arrays, not tuples: say what the person has to write.
            hint = error["msg"][0].lower() + error["msg"][1:].replace("valid tuple", "list")
        problems.append(f"{origin}: `{dotted}`: {hint}{got}")
    return ConfigError("Invalid configuration:\n  " + "\n  ".join(problems))


def _present_prefix(values: dict[str, Any], dotted: str) -> str | None:
    """The longest part of ``dotted`` this layer sets (list items count as their list)."""
    node: Any = values
    found: list[str] = []
    for part in dotted.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
        found.append(part)
    return ".".join(found) or None
