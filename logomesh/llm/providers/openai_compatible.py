"""Any server speaking OpenAI's chat/completions API: OpenAI, vLLM, llama.cpp's server,
Ollama's /v1, LM Studio. Built on llama-index's ``OpenAILike``.

Retries are LogoMesh's (tenacity, with the audit record of each attempt), so the SDK's own
are switched off: two retry loops would multiply each other and hide attempts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from logomesh.llm.providers import api_key, parse_options
from logomesh.llm.providers.base import LoadContext
from logomesh.llm.providers.response_shape import checked_http_client
from logomesh.llm.providers.wrapped import LlamaIndexChat
from logomesh.llm.settings import Capability, ModelConfig


class OpenAICompatibleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://api.openai.com/v1"
    model: str = Field(min_length=1)
    api_key: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    headers: dict[str, str] = Field(default_factory=dict)
    is_chat_model: bool = True


def load(config: ModelConfig, context: LoadContext) -> LlamaIndexChat:
    from llama_index.llms.openai_like import OpenAILike

    options = parse_options(OpenAICompatibleOptions, config)
    timeout = config.timeout_s or 120.0
    llm = OpenAILike(
        model=options.model,
        api_base=options.base_url,
        # Local servers need no key, but the SDK insists on one being set.
        api_key=api_key(options, context, options.api_key_env) or "not-needed",
        context_window=config.context_window,
        is_chat_model=options.is_chat_model,
        is_function_calling_model=Capability.TOOLS in config.capabilities,
        max_retries=0,
        timeout=timeout,
        default_headers=options.headers or None,
        # Answers are shape-checked on the wire, so a bad one is named as such (not a TypeError).
        http_client=checked_http_client(config.name),
    )
    # Build the SDK client now: its first construction (SSL context, lazy imports) takes up
    # to a few seconds here and would otherwise eat the first call's timeout. There is no
    # public way to ask for it, hence the guarded private call.
    make_client = getattr(llm, "_get_client", None)
    if callable(make_client):
        make_client()
    call_options: dict[str, Any] = {"stream_options": {"include_usage": True}}
    return LlamaIndexChat(
        llm,
        version=f"{options.model}@{options.base_url}",
        streaming=Capability.STREAMING in config.capabilities,
        call_options=call_options,
    )
