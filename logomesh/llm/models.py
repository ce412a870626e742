"""The typed values of a model call: messages and parameters in, completions out.

These cross the boundary between callers (commands, adapters, cognition components) and the
registry, so they are plain frozen dataclasses with no provider types in them: a caller never
sees a llama-index or OpenAI object.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from logomesh.commands.values import Source

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling parameters; ``None`` means the model's configured default (or the provider's)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] | None = None

    def over(self, defaults: dict[str, Any]) -> GenerationParams:
        """These parameters with the unset ones taken from ``defaults`` (a model's table)."""
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in defaults.items():
            if merged.get(name) is None:
                merged[name] = tuple(value) if name == "stop" else value
        return GenerationParams(**merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: list(value) if isinstance(value, tuple) else value
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        }


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A chat (``messages``) or a raw completion (``prompt``): exactly one is set."""

    messages: tuple[Message, ...] = ()
    prompt: str | None = None
    params: GenerationParams = GenerationParams()

    @property
    def is_chat(self) -> bool:
        return self.prompt is None

    def text(self) -> str:
        """The request as one text, for token estimates and the audit record."""
        if self.prompt is not None:
            return self.prompt
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who caused a call, so its audit record links to the command that made it."""

    actor: str
    source: Source = Source.SYSTEM
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    # True when a provider did not report counts and they were estimated from the text.
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One try of one model, as recorded in the audit trail."""

    model: str
    attempt: int
    outcome: str
    error_code: str | None = None
    latency_ms: float = 0.0
    audit_id: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    model_version: str
    usage: Usage
    latency_ms: float
    first_token_ms: float | None = None
    cost_usd: float = 0.0
    finish_reason: str | None = None
    attempts: tuple[AttemptInfo, ...] = ()

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token_ms is None or self.usage.tokens_out < 2:
            return None
        generating_s = (self.latency_ms - self.first_token_ms) / 1000
        return (self.usage.tokens_out - 1) / generating_s if generating_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "model_version": self.model_version,
            "tokens_in": self.usage.tokens_in,
            "tokens_out": self.usage.tokens_out,
            "tokens_estimated": self.usage.estimated,
            "latency_ms": round(self.latency_ms, 3),
            "first_token_ms": None
            if self.first_token_ms is None
            else round(self.first_token_ms, 3),
            "cost_usd": self.cost_usd,
            "finish_reason": self.finish_reason,
            "attempts": [
                {
                    "model": a.model,
                    "attempt": a.attempt,
                    "outcome": a.outcome,
                    "error": a.error_code,
                    "audit_id": a.audit_id,
                }
                for a in self.attempts
            ],
        }


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    model: str
    model_version: str
    latency_ms: float
    attempts: tuple[AttemptInfo, ...] = field(default=())

    @property
    def dimensions(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0


def estimate_tokens(text: str) -> int:
    """A provider-neutral token estimate (about four characters per token in English).

    Used only where the provider cannot count (remote models before sending); it is marked
    as an estimate wherever it is shown.
    """
    return max(1, (len(text) + 3) // 4) if text else 0
