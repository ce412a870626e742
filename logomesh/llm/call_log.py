"""The account of one call across its chain of models: each attempt, recorded as it ends.

A call may try several models, each several times; the caller gets every attempt in its
:class:`~logomesh.llm.models.Completion`, and when all fail, one error that says why each
model failed (its last error: the retries of one model repeat the same story).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from logomesh.commands.values import Outcome
from logomesh.errors import LLMError, LogoMeshError
from logomesh.llm.models import AttemptInfo, Caller, GenerationParams, GenerationRequest
from logomesh.llm.recording import CALL_ACTION, AttemptRecord, CallRecorder
from logomesh.llm.settings import ModelConfig


@dataclass
class CallLog:
    request: GenerationRequest
    caller: Caller
    recorder: CallRecorder
    attempts: list[AttemptInfo] = field(default_factory=list)
    errors: list[tuple[str, LogoMeshError]] = field(default_factory=list)

    async def failed(
        self,
        config: ModelConfig,
        index: int,
        attempt: int,
        params: GenerationParams,
        version: str | None,
        started: float,
        *,
        error: LogoMeshError,
        action: str = CALL_ACTION,
    ) -> None:
        """Record one attempt that failed (``attempt`` 0: the model was never reached)."""
        latency_ms = (time.perf_counter() - started) * 1000
        audit_id = await self.recorder.record(
            AttemptRecord(
                action=action,
                config=config,
                caller=self.caller,
                attempt=attempt,
                fallback_index=index,
                prompt=self.request.text(),
                parameters=params.to_dict(),
                model_version=version,
                latency_ms=latency_ms,
                error=error,
                outcome=Outcome.ERROR,
                extra={"retryable": getattr(error, "retryable", False)},
            )
        )
        self.attempts.append(
            AttemptInfo(config.name, attempt, "error", error.code, latency_ms, audit_id)
        )
        self.errors.append((config.name, error))

    async def gave_up_on(
        self, config: ModelConfig, exc: LogoMeshError, index: int, action: str
    ) -> None:
        """A model of the chain is done for; record why if no attempt of it already did."""
        if not self.errors or self.errors[-1][1] is not exc:
            # It never reached the model (unknown, offline, cooling, too long): one record.
            await self.failed(
                config, index, 0, self.request.params, None, time.perf_counter(),
                error=exc, action=action,
            )  # fmt: skip

    def final_error(self) -> LogoMeshError:
        last_by_model = dict(self.errors)
        if len(last_by_model) == 1:
            return next(iter(last_by_model.values()))
        reasons = "; ".join(
            f"{name}: {error.user_message}" for name, error in last_by_model.items()
        )
        return LLMError(f"No model could answer. {reasons}", code="llm.all_failed")
