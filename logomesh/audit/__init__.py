"""LogoMesh audit trail: a hash-chained, signed, redacted record of every interaction.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.audit.feature",
    "AuditEntry": "logomesh.audit.models",
    "AuditRecord": "logomesh.audit.models",
    "AuditFilter": "logomesh.audit.query",
    "parse_when": "logomesh.audit.query",
    "AuditTrail": "logomesh.audit.trail",
    "CheckpointSplit": "logomesh.audit.chain_move",
    "VerifyReport": "logomesh.audit.verify",
    "set_aside_foreign_checkpoints": "logomesh.audit.chain_move",
    "verify_copy": "logomesh.audit.chain_move",
    "SemanticSearch": "logomesh.audit.semantic.search",
}
__all__ = [
    "FEATURE",
    "AuditEntry",
    "AuditFilter",
    "AuditRecord",
    "AuditTrail",
    "CheckpointSplit",
    "SemanticSearch",
    "VerifyReport",
    "parse_when",
    "set_aside_foreign_checkpoints",
    "verify_copy",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.audit.chain_move import (
        CheckpointSplit,
        set_aside_foreign_checkpoints,
        verify_copy,
    )
    from logomesh.audit.feature import FEATURE
    from logomesh.audit.models import AuditEntry, AuditRecord
    from logomesh.audit.query import AuditFilter, parse_when
    from logomesh.audit.semantic.search import SemanticSearch
    from logomesh.audit.trail import AuditTrail
    from logomesh.audit.verify import VerifyReport
