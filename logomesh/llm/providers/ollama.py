"""Ollama's native API (``/api/chat``), through llama-index's ``Ollama`` integration."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from logomesh.llm.models import GenerationParams, GenerationRequest
from logomesh.llm.providers import parse_options
from logomesh.llm.providers.base import Chunk, LoadContext
from logomesh.llm.providers.wrapped import LlamaIndexChat
from logomesh.llm.settings import Capability, ModelConfig


class OllamaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = "http://127.0.0.1:11434"
    model: str = Field(min_length=1)
    keep_alive: str | None = None


# LogoMesh's sampling parameters -> the names of Ollama's ``options``.
_OPTION_NAMES = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "num_predict",
    "seed": "seed",
    "stop": "stop",
}


class OllamaChat(LlamaIndexChat):
    """llama-index's ``Ollama`` ignores sampling arguments given to ``chat``/``stream_chat``
    (it sends only its own ``temperature``, ``num_ctx`` and ``additional_kwargs`` as
    ``options``), so each call with parameters goes through a copy of it that carries them.
    """

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[Chunk]:
        options = ollama_options(request.params)
        if not options:
            return super().stream(request, cancel)
        per_call = copy.copy(self)  # the copy of the llm shares its HTTP client
        per_call.llm = self.llm.model_copy(
            update={"additional_kwargs": {**self.llm.additional_kwargs, **options}}
        )
        return LlamaIndexChat.stream(per_call, request, cancel)


def ollama_options(params: GenerationParams) -> dict[str, Any]:
    """The sampling parameters as Ollama ``options`` (``max_tokens`` is ``num_predict``)."""
    return {_OPTION_NAMES.get(name, name): value for name, value in params.to_dict().items()}


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
    _ = llm.client  # made now (no network), so per-call copies share one connection pool
    return OllamaChat(
        llm,
        version=f"{options.model}@{options.base_url}",
        streaming=Capability.STREAMING in config.capabilities,
    )
