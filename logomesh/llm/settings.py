"""The ``[llm]`` section of the configuration: which models exist and how calls behave.

Models are declared as ``[[llm.models]]`` tables; two built-in models (the local Gemma and
the MiniLM embedding model) exist without any configuration, and a declared model with the
same name replaces its built-in. Provider settings stay a free-form table here and are
checked by the provider's own option model when the model is first used, so a typo in one
model's table never stops the others (or ``logomesh --help``) from working.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Capability(StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDINGS = "embeddings"
    TOOLS = "tools"
    STREAMING = "streaming"


class Purpose(StrEnum):
    """What a caller wants a model for; each purpose has a default model."""

    CHAT = "chat"
    CODE_ACTIONS = "code_actions"
    NL = "nl"
    EMBEDDINGS = "embeddings"


class ProviderName(StrEnum):
    LLAMA_CPP = "llama-cpp"
    OPENAI_COMPATIBLE = "openai-compatible"
    OLLAMA = "ollama"
    ANTHROPIC = "anthropic"
    SENTENCE_TRANSFORMERS = "sentence-transformers"
    LLAMA_INDEX = "llama-index"


class TokenCost(_Section):
    """Prices in US dollars per token, as providers publish them (divide $/1M by 1e6)."""

    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)


class ModelConfig(_Section):
    """One model, as declared under ``[[llm.models]]``."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    provider: ProviderName
    aliases: tuple[str, ...] = ()
    description: str = ""
    good_for: str = Field(default="", description="What the model is good for (`llm list`).")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider settings (base_url, model, path, ...)."
    )
    capabilities: tuple[Capability, ...] = (Capability.CHAT, Capability.STREAMING)
    context_window: int = Field(default=4096, gt=0)
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Default generation parameters (temperature, ...)."
    )
    cost: TokenCost = TokenCost()
    fallbacks: tuple[str, ...] = Field(default=(), description="Models tried in order after it.")
    max_concurrency: int = Field(default=4, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(GENERATION_PARAMETERS))
        if unknown:
            known = ", ".join(GENERATION_PARAMETERS)
            raise ValueError(f"unknown generation parameter(s) {unknown}; known: {known}")
        return value


# Parameters LogoMesh passes to every provider; anything provider-specific goes in options.
GENERATION_PARAMETERS = ("temperature", "top_p", "max_tokens", "seed", "stop")


class RetrySettings(_Section):
    attempts: int = Field(default=3, ge=1, le=10, description="Tries per model, first included.")
    initial_delay_s: float = Field(default=0.5, ge=0)
    max_delay_s: float = Field(default=20.0, ge=0)
    max_retry_after_s: float = Field(
        default=60.0, ge=0, description="A longer Retry-After moves on to the fallbacks."
    )


class CooldownSettings(_Section):
    after_failures: int = Field(default=3, ge=1, description="Consecutive failed calls.")
    seconds: float = Field(default=60.0, ge=0)


class ModelDefaults(_Section):
    chat: str = "gemma-3-270m"
    code_actions: str = "gemma-3-270m"
    nl: str = "gemma-3-270m"
    embeddings: str = "all-minilm-l6-v2"


class LLMSettings(_Section):
    allow_network: bool = Field(
        default=True, description="Offline mode turns this off: only loopback and local models."
    )
    models: tuple[ModelConfig, ...] = ()
    defaults: ModelDefaults = ModelDefaults()
    retry: RetrySettings = RetrySettings()
    cooldown: CooldownSettings = CooldownSettings()
    timeout_s: float = Field(default=120.0, gt=0, description="Per attempt, unless the model says.")
    audit_max_chars: int = Field(
        default=16_000, ge=0, description="Prompts and responses longer than this are cut."
    )
