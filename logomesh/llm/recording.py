"""Every model call attempt becomes one audit record.

A record holds the model's name and version (GGUF file hash or provider model id), the
parameters, the prompt and response (the trail redacts secrets; here they are cut past
``llm.audit_max_chars`` with their full length kept), tokens, latency, cost, outcome, and
its place among retries and fallbacks. Its correlation id is the command's, so
``logomesh audit query --correlation ...`` shows a command with every call it caused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from logomesh.audit import AuditEntry, AuditRecord
from logomesh.commands.values import Outcome
from logomesh.errors import LogoMeshError
from logomesh.llm import Caller
from logomesh.llm.models import Usage
from logomesh.llm.settings import ModelConfig

logger = logging.getLogger(__name__)

CALL_ACTION = "llm.call"
EMBED_ACTION = "llm.embed"


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What one attempt did, in the terms the audit record needs."""

    action: str
    config: ModelConfig
    caller: Caller
    attempt: int
    fallback_index: int
    prompt: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    model_version: str | None = None
    response: str | None = None
    usage: Usage | None = None
    latency_ms: float = 0.0
    first_token_ms: float | None = None
    cost_usd: float = 0.0
    error: LogoMeshError | None = None
    outcome: Outcome = Outcome.OK
    extra: Mapping[str, Any] = field(default_factory=dict)


class CallRecorder:
    def __init__(
        self, write: Callable[[AuditEntry], Awaitable[AuditRecord | None]], max_chars: int
    ) -> None:
        self._write = write
        self.max_chars = max_chars

    async def record(self, attempt: AttemptRecord) -> str | None:
        """Write the attempt's audit record; its id, or None if the trail refused it."""
        prompt, prompt_cut = self._cut(attempt.prompt)
        response, response_cut = self._cut(attempt.response)
        details: dict[str, Any] = {
            "provider": str(attempt.config.provider),
            "model_version": attempt.model_version,
            "parameters": dict(attempt.parameters),
            "attempt": attempt.attempt,
            "fallback_index": attempt.fallback_index,
            "latency_ms": round(attempt.latency_ms, 3),
            "prompt_chars": len(attempt.prompt),
            "prompt_truncated": prompt_cut,
            **attempt.extra,
        }
        if attempt.response is not None:
            details |= {"response_chars": len(attempt.response), "response_truncated": response_cut}
        if attempt.first_token_ms is not None:
            details["first_token_ms"] = round(attempt.first_token_ms, 3)
        if attempt.usage is not None:
            details["tokens_estimated"] = attempt.usage.estimated
            details["cost_usd"] = attempt.cost_usd
        error = attempt.error
        entry = AuditEntry(
            actor=attempt.caller.actor,
            source=attempt.caller.source,
            action=attempt.action,
            outcome=attempt.outcome,
            target=attempt.config.name,
            arguments={"model": attempt.config.name},
            error=f"[{error.code}] {error.user_message}" if error else None,
            duration_ms=attempt.latency_ms,
            correlation_id=attempt.caller.correlation_id,
            details=details,
            model=attempt.config.name,
            prompt=prompt,
            response=response,
            tokens_in=attempt.usage.tokens_in if attempt.usage else None,
            tokens_out=attempt.usage.tokens_out if attempt.usage else None,
        )
        # The engine's writer logs and spools what it cannot write; None says so here.
        record = await self._write(entry)
        return record.id if record is not None else None

    def _cut(self, text: str | None) -> tuple[str | None, bool]:
        if text is None or len(text) <= self.max_chars:
            return text, False
        kept = text[: self.max_chars]
        return f"{kept}\n[... cut: {len(text) - self.max_chars} more characters]", True
