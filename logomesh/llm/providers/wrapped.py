"""Backends over llama-index objects: any ``LLM`` chats, any ``BaseEmbedding`` embeds.

This is where LogoMesh meets llama-index's model interface, so that every integration a
user installs (OpenAI-like servers, Ollama, Anthropic, or anything named in configuration)
is driven the same way. llama-index is imported by the providers that build these objects,
never by the registry, and only when a model is first used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from logomesh.llm.models import GenerationRequest, Message
from logomesh.llm.providers.base import Chunk


class LlamaIndexChat:
    """A chat backend over a llama-index ``LLM`` (``stream_chat`` / ``stream_complete``)."""

    def __init__(
        self,
        llm: Any,
        version: str,
        *,
        streaming: bool = True,
        call_options: dict[str, Any] | None = None,
    ) -> None:
        self.llm = llm
        self.version = version
        self.streaming = streaming
        self._call_options = call_options or {}

    def count_tokens(self, request: GenerationRequest) -> int | None:
        return None  # remote tokenizers are unknown here; the registry estimates

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[Chunk]:
        kwargs = {**self._call_options, **_sampling_kwargs(request)}
        if not self.streaming:
            response = (
                self.llm.chat(to_chat_messages(request.messages), **kwargs)
                if request.is_chat
                else self.llm.complete(request.prompt, **kwargs)
            )
            text = response.message.content if request.is_chat else response.text
            reason = _finish_reason_of(response) or "stop"
            yield Chunk(str(text or ""), *_tokens_of(response), finish_reason=reason)
            return
        responses = (
            self.llm.stream_chat(to_chat_messages(request.messages), **kwargs)
            if request.is_chat
            else self.llm.stream_complete(request.prompt, **kwargs)
        )
        tokens_in: int | None = None
        tokens_out: int | None = None
        finish: str | None = None
        for response in responses:
            if cancel.is_set():
                return
            counted_in, counted_out = _tokens_of(response)
            tokens_in = counted_in if counted_in is not None else tokens_in
            tokens_out = counted_out if counted_out is not None else tokens_out
            finish = _finish_reason_of(response) or finish
            if response.delta:
                yield Chunk(response.delta)
        yield Chunk("", tokens_in, tokens_out, finish_reason=finish or "stop")

    def close(self) -> None:
        return None


class LlamaIndexEmbedding:
    """An embedding backend over a llama-index ``BaseEmbedding``."""

    def __init__(self, model: Any, version: str) -> None:
        self.model = model
        self.version = version

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [list(vector) for vector in self.model.get_text_embedding_batch(list(texts))]

    def close(self) -> None:
        return None


def to_chat_messages(messages: Sequence[Message]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=message.role, content=message.content) for message in messages]


def _sampling_kwargs(request: GenerationRequest) -> dict[str, Any]:
    params = request.params.to_dict()
    if "stop" in params:
        params["stop"] = list(params["stop"])
    return params


def _tokens_of(response: Any) -> tuple[int | None, int | None]:
    """Token counts from a llama-index response, in whichever shape the integration uses."""
    message = getattr(response, "message", None)
    raw = getattr(response, "raw", None)
    for extra in (
        getattr(response, "additional_kwargs", None) or {},
        getattr(message, "additional_kwargs", None) or {},
        # Ollama's integration reports its counts only in the raw response's "usage".
        raw if isinstance(raw, dict) else {},
    ):
        if "prompt_tokens" in extra or "completion_tokens" in extra:
            return extra.get("prompt_tokens"), extra.get("completion_tokens")
        usage = extra.get("usage")
        if isinstance(usage, dict):
            if "prompt_tokens" in usage or "completion_tokens" in usage:
                return usage.get("prompt_tokens"), usage.get("completion_tokens")
            return usage.get("input_tokens"), usage.get("output_tokens")
    return None, None


def _finish_reason_of(response: Any) -> str | None:
    """Why generation stopped ("stop", "length"), where the integration says it."""
    for extra in (
        getattr(response, "additional_kwargs", None) or {},
        getattr(getattr(response, "message", None), "additional_kwargs", None) or {},
    ):
        if extra.get("finish_reason"):
            return str(extra["finish_reason"])
    raw = getattr(response, "raw", None)
    if isinstance(raw, dict):  # Ollama
        reason = raw.get("done_reason")
        return str(reason) if reason else None
    choices = getattr(raw, "choices", None)  # OpenAI-shaped responses and chunks
    if choices:
        reason = getattr(choices[0], "finish_reason", None)
        return str(reason) if reason else None
    return None
