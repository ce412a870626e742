"""LogoMesh: one engine for developer operations, behind a CLI, an editor and chat adapters.

The public API is what adapters and plugins need: build :class:`Settings`, open an
:class:`Engine` with :func:`build_engine`, send it :class:`CommandRequest` values and read
:class:`CommandResult` ones.
Names are imported lazily so that ``import logomesh`` (and ``logomesh --help``) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Engine": "logomesh.engine",
    "build_engine": "logomesh.composition",
    "Settings": "logomesh.config",
    "load_settings": "logomesh.config",
    "Mode": "logomesh.commands.values",
    "RiskLevel": "logomesh.commands.values",
    "CommandRequest": "logomesh.commands.models",
    "CommandResult": "logomesh.commands.models",
    "CommandOutput": "logomesh.commands.models",
    "CommandContext": "logomesh.commands.models",
    "ConfirmationRequest": "logomesh.commands.models",
    "Confirmer": "logomesh.commands.models",
    "CommandRegistry": "logomesh.commands.registry",
    "command": "logomesh.commands.registry",
    "Actor": "logomesh.commands.values",
    "Source": "logomesh.commands.values",
    "Outcome": "logomesh.commands.values",
    "AuditEntry": "logomesh.audit.models",
    "EventBus": "logomesh.events",
    "LogoMeshError": "logomesh.errors",
    "Ticket": "logomesh.approvals.models",
    "TicketState": "logomesh.approvals.models",
    "ApprovalRequested": "logomesh.events",
    "ApprovalDecided": "logomesh.events",
}
__all__ = [
    "Actor",
    "ApprovalDecided",
    "ApprovalRequested",
    "AuditEntry",
    "CommandContext",
    "CommandOutput",
    "CommandRegistry",
    "CommandRequest",
    "CommandResult",
    "ConfirmationRequest",
    "Confirmer",
    "Engine",
    "EventBus",
    "LogoMeshError",
    "Mode",
    "Outcome",
    "RiskLevel",
    "Settings",
    "Source",
    "Ticket",
    "TicketState",
    "__version__",
    "build_engine",
    "command",
    "load_settings",
]

if TYPE_CHECKING:
    from logomesh.approvals.models import Ticket, TicketState
    from logomesh.audit.models import AuditEntry
    from logomesh.commands.models import (
        CommandContext,
        CommandOutput,
        CommandRequest,
        CommandResult,
        ConfirmationRequest,
        Confirmer,
    )
    from logomesh.commands.registry import CommandRegistry, command
    from logomesh.commands.values import Actor, Mode, Outcome, RiskLevel, Source
    from logomesh.composition import build_engine
    from logomesh.config import Settings, load_settings
    from logomesh.engine import Engine
    from logomesh.errors import LogoMeshError
    from logomesh.events import ApprovalDecided, ApprovalRequested, EventBus


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'logomesh' has no attribute {name!r}")
