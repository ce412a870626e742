"""Anthropic's Messages API, through llama-index's ``Anthropic`` integration (an extra)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from logomesh.errors import ModelRequestError
from logomesh.llm.providers import api_key, parse_options
from logomesh.llm.providers.base import LoadContext
from logomesh.llm.providers.wrapped import LlamaIndexChat
from logomesh.llm.settings import Capability, ModelConfig


class AnthropicOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str = "ANTHROPIC_API_KEY"
    max_tokens: int = Field(default=1024, gt=0)


def load(config: ModelConfig, context: LoadContext) -> LlamaIndexChat:
    from llama_index.llms.anthropic import Anthropic

    options = parse_options(AnthropicOptions, config)
    key = api_key(options, context, options.api_key_env)
    if not key:
        raise ModelRequestError(
            f"{config.name} needs an Anthropic API key: set {options.api_key_env} in the "
            "environment (or `api_key_env` in the model's [[llm.models]] table)."
        )
    llm = Anthropic(
        model=options.model,
        api_key=key,
        base_url=options.base_url,
        max_tokens=options.max_tokens,
        max_retries=0,
        timeout=config.timeout_s or 120.0,
    )
    return LlamaIndexChat(
        llm, version=options.model, streaming=Capability.STREAMING in config.capabilities
    )
