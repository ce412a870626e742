"""The model registry: every model call, retried, fallen back, recorded and audited.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.llm.feature",
    "Caller": "logomesh.llm.models",
    "Capability": "logomesh.llm.settings",
    "GenerationParams": "logomesh.llm.models",
    "Message": "logomesh.llm.models",
    "LLMService": "logomesh.llm.service",
    "ModelPool": "logomesh.llm.pool",
    "LLMSettings": "logomesh.llm.settings",
    "Purpose": "logomesh.llm.settings",
}
__all__ = [
    "FEATURE",
    "Caller",
    "Capability",
    "GenerationParams",
    "LLMService",
    "LLMSettings",
    "Message",
    "ModelPool",
    "Purpose",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.llm.feature import FEATURE
    from logomesh.llm.models import Caller, GenerationParams, Message
    from logomesh.llm.pool import ModelPool
    from logomesh.llm.service import LLMService
    from logomesh.llm.settings import Capability, LLMSettings, Purpose
