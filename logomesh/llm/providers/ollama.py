"""Ollama's native API (``/api/chat``), through llama-index's ``Ollama`` integration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from logomesh.llm.providers import parse_options
from logomesh.llm.providers.base import LoadContext
from logomesh.llm.providers.wrapped import LlamaIndexChat
from logomesh.llm.settings import Capability, ModelConfig


class OllamaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = "http://127.0.0.1:11434"
    model: str = Field(min_length=1)
    keep_alive: str | None = None


def load(config: ModelConfig, context: LoadContext) -> LlamaIndexChat:
    from llama_index.llms.ollama import Ollama

    options = parse_options(OllamaOptions, config)
    llm = Ollama(
        model=options.model,
        base_url=options.base_url,
        context_window=config.context_window,
        request_timeout=config.timeout_s or 120.0,
        keep_alive=options.keep_alive,
    )
    return LlamaIndexChat(
        llm,
        version=f"{options.model}@{options.base_url}",
        streaming=Capability.STREAMING in config.capabilities,
    )
