"""What a workspace's own logomesh.toml may do: never security, and code only once trusted.

The workspace file is the one layer of configuration a stranger may have written (a cloned
repository). Two rules apply to it, and only to it (docs/trust.md):

- it may not set security keys, trusted or not: ``security.*`` (roles, identities, owner,
  risk limits, the trust store), ``audit.key_path``, ``audit.checkpoint_path``,
  ``audit.trusted_public_keys`` and ``audit.durable_from`` come from the user's config,
  variables, flags or --config;
- until the workspace is trusted (:mod:`logomesh.trust`), the code it declares is left out
  of the merge: ``[[plugins.mcp]]``, ``[[devshell.commands]]``, ``plugins.paths`` and
  ``[[llm.models]]`` (plugin discovery skips its ``plugins/`` folder through
  ``Settings.workspace_trusted``).

No layer may declare the workspace trusted itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logomesh.config_sources import ENV_PREFIX, Layer, copy_nested, describe_origin, dotted_keys
from logomesh.errors import ConfigError
from logomesh.trust import TrustState, TrustStore, TrustSubject

# Keys only the user may set: a workspace able to set them could sign or vouch for itself.
# The fail-closed threshold is one: a cloned repository must not let danger commands run
# unaudited.
SECURITY_KEYS = (
    "audit.key_path",
    "audit.checkpoint_path",
    "audit.trusted_public_keys",
    "audit.durable_from",
    "security",
)
# A workspace's own code, left out until it is trusted: what its logomesh.toml declares that
# runs or loads code: command lines, plugin folders, and models (a llama-index class is an
# import, a GGUF file is parsed by llama.cpp, a remote base_url receives every prompt).
GATED_KEYS = ("plugins.mcp", "plugins.paths", "devshell.commands", "llm.models")


def refuse_reserved_keys(layers: list[Layer], user_file: Path) -> None:
    """Security keys in a workspace file, or a trust decision in any layer, are errors."""
    problems = []
    for layer in layers:
        for decided in ("workspace_trusted", "workspace_restricted"):
            if decided in layer.values:
                problems.append(
                    f"{describe_origin(layer, decided)}: `{decided}` is decided by "
                    "`logomesh trust` (or an editor's workspace trust), never by "
                    "configuration; remove it."
                )
        if not layer.from_workspace or layer.path is None:
            continue
        for key in dotted_keys(layer.values):
            if any(key == k or key.startswith(f"{k}.") for k in SECURITY_KEYS):
                variable = f"{ENV_PREFIX}{key.replace('.', '__').upper()}"
                problems.append(
                    f"{describe_origin(layer, key)}: `{key}` is a security setting, which a "
                    f"workspace's {layer.path.name} may not set (anyone who can change the "
                    f"repository could change it). Put it in your user config file "
                    f"{user_file}, set {variable}, or pass --config FILE."
                )
    if problems:
        raise ConfigError("Invalid configuration:\n  " + "\n  ".join(problems))


def trust_state(
    subject: TrustSubject, layers: list[Layer], trusted: bool | None, default_store: Path
) -> TrustState:
    """The adapter's decision when it brings one, else the trust store's."""
    chosen = _last_value(layers, "security.trust_store")
    store = Path(chosen).expanduser() if isinstance(chosen, str) and chosen else default_store
    if trusted is not None:
        why = "trusted by the adapter" if trusted else "not trusted by the adapter"
        return TrustState(trusted, why, subject, store)
    return TrustStore(store).lookup(subject)


def _last_value(layers: list[Layer], dotted: str) -> Any:
    value = None
    for layer in layers:
        node: Any = layer.values
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        value = node if node is not None else value
    return value


def gate_by_trust(layers: list[Layer], trust: TrustState) -> tuple[list[Layer], list[str]]:
    """The layers to merge, and what an untrusted workspace had that was left out."""
    if trust.trusted:
        return layers, []
    withheld: list[str] = []
    gated = [_withhold(layer, withheld) if layer.from_workspace else layer for layer in layers]
    withheld.extend(f"plugin folder {folder}" for folder in trust.subject.plugin_folders())
    return gated, withheld


def keep_the_users_mode(layers: list[Layer]) -> tuple[list[Layer], list[str]]:
    """A workspace file may pick the mode, but not override the one the user's config set.

    Modes are presets, not a ladder: a workspace's ``mode = "local"`` (or ``"readonly"``)
    over a user's ``mode = "team"`` would switch required roles and the two-person rule off.
    """
    chosen = next((layer for layer in layers if not layer.from_workspace and layer.path
                   and "mode" in layer.values), None)  # fmt: skip
    if chosen is None:
        return layers, []
    kept: list[Layer] = []
    notices: list[str] = []
    for layer in layers:
        theirs = layer.values.get("mode")
        if layer.from_workspace and theirs is not None and theirs != chosen.values["mode"]:
            values = {key: value for key, value in layer.values.items() if key != "mode"}
            layer = Layer(layer.origin, values, layer.path, layer.env_names, from_workspace=True)
            notices.append(
                f"`mode = {theirs!r}` ({describe_origin(layer, 'mode')}) is ignored: your "
                f"config sets `mode = {chosen.values['mode']!r}` "
                f"({describe_origin(chosen, 'mode')}), and a workspace may not change the mode "
                "you chose. Pass --mode to use another one for a command."
            )
        kept.append(layer)
    return kept, notices


def _withhold(layer: Layer, withheld: list[str]) -> Layer:
    """The workspace layer without the code it declares, noting what was left out."""
    values = copy_nested(layer.values)
    for dotted in GATED_KEYS:
        section, key = dotted.split(".")
        table = values.get(section)
        if isinstance(table, dict) and key in table:
            del table[key]
            withheld.append(f"`{dotted}` ({describe_origin(layer, dotted)})")
    return Layer(layer.origin, values, layer.path, layer.env_names, from_workspace=True)
