"""The engine's own commands: its status, who is asking, the command list, the effective
settings, a new workspace (``engine_commands``) and the database's schema and backups
(``db_commands``). ``feature.FEATURE`` collects them like any feature's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {"keep_trust": "logomesh.builtin.trust_commands"}
__all__ = ["keep_trust"]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.builtin.trust_commands import keep_trust
