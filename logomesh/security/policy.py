"""Authorisation: may this identity run this command, here, now?

Deny by default: a command runs only when one of the identity's roles grants its permission
(``fnmatch`` patterns, so ``devshell.*`` or ``*``) and its risk is within the mode's limit
(``readonly`` allows only ``read``). Every decision carries its reason, which the engine writes
to the audit trail whether it allowed or denied.

On top of the roles, a workspace that the adapter declared untrusted (an editor's Restricted
Mode: ``Settings.workspace_restricted``) refuses every command that runs the workspace's own
code (:meth:`Policy.restriction`), whoever asks: VS Code promises not to run a folder's code
until it is trusted, and ``tests.run`` would (pytest imports its conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from logomesh.commands.values import Identity, Mode, RiskLevel
from logomesh.errors import ConfigError
from logomesh.trust import HOW_TO_TRUST

if TYPE_CHECKING:
    from logomesh.commands.models import CommandSpec
    from logomesh.config import Settings


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    permission: str
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "permission": self.permission,
            "role": self.role,
        }


class Policy:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._roles = settings.security.roles
        for mapping in settings.security.identities:
            unknown = [role for role in mapping.roles if role not in self._roles]
            if unknown:
                raise ConfigError(
                    f"`security.identities` entry {mapping.name!r} names unknown role(s) "
                    f"{', '.join(unknown)}; define them under `security.roles` or use one of "
                    f"{', '.join(sorted(self._roles))}."
                )
        for grant in settings.security.role_grants:
            unknown = [role for role in grant.roles if role not in self._roles]
            if unknown:
                raise ConfigError(
                    f"`security.role_grants` entry for Discord role {grant.discord_role} names "
                    f"unknown role(s) {', '.join(unknown)}; define them under `security.roles` "
                    f"or use one of {', '.join(sorted(self._roles))}."
                )

    def authorize(self, identity: Identity, permission: str, risk: RiskLevel) -> Decision:
        limit = self._settings.risk_limit
        if risk.rank > limit.rank:
            why = (
                "readonly mode allows only read commands"
                if self._settings.mode is Mode.READONLY
                else f"`security.max_risk` is {limit}"
            )
            return Decision(False, f"{why}; this command's risk is {risk}", permission)
        for role in identity.roles:
            for pattern in self._roles.get(role, ()):
                if fnmatchcase(permission, pattern):
                    return Decision(True, f"role {role!r} grants {pattern!r}", permission, role)
        if not identity.roles:
            reason = (
                f"{identity.name} has no roles; map this user to an identity under "
                "`[[security.identities]]` (or, on Discord, give one of their roles "
                "LogoMesh roles under `[[security.role_grants]]`) in the user config file "
                "(~/.config/logomesh/config.toml, or --config FILE; never a workspace's "
                "logomesh.toml)"
            )
        else:
            reason = (
                f"none of {identity.name}'s roles ({', '.join(identity.roles)}) grants "
                f"`{permission}`; an admin can add it under `security.roles`"
            )
        return Decision(False, reason, permission)

    def restriction(self, spec: CommandSpec) -> Decision | None:
        """The refusal of ``spec`` in a restricted workspace; None when it may run here."""
        if spec.runs_project_code is None or not self._settings.workspace_restricted:
            return None
        reason = (
            f"{spec.name} runs this workspace's code ({spec.runs_project_code}), and the "
            "editor has not trusted the workspace (Restricted Mode)"
        )
        return Decision(False, reason, spec.permission)

    def restricted_message(self, spec: CommandSpec) -> str:
        """What a person is told when :meth:`restriction` refused ``spec``, and the fix."""
        return (
            f"{spec.name} runs this workspace's code: {spec.runs_project_code}. The workspace "
            f"{self._settings.workspace} is not trusted (Restricted Mode), so LogoMesh does not "
            f"run it. To run it, {HOW_TO_TRUST}."
        )

    def permissions_of(self, identity: Identity) -> list[str]:
        granted = {p for role in identity.roles for p in self._roles.get(role, ())}
        return sorted(granted)
