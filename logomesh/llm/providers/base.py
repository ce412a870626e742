"""The provider port: what the registry needs from a loaded model, and nothing more.

A provider turns a :class:`~logomesh.llm.settings.ModelConfig` into a backend. Chat backends
stream :class:`Chunk` values from a synchronous iterator (the registry runs it in a thread, so
a slow model never blocks the event loop, and checks ``cancel`` between chunks); embedding
backends return vectors. Retries, fallbacks, audit and usage live in the registry, once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from logomesh.llm.models import GenerationRequest

if TYPE_CHECKING:
    from logomesh.nl import Embedder


@dataclass(frozen=True, slots=True)
class Chunk:
    """Part of an answer; the last chunk may carry the provider's token counts."""

    text: str = ""
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What a provider may use while loading: where to cache files, and the environment
    (read here, at load time, for API keys named by ``api_key_env``)."""

    cache_dir: Path
    environ: Mapping[str, str] = field(default_factory=dict)
    # The engine's warm sentence embedder (shared with NL and audit search), if it has one.
    embedder: Embedder | None = None


@runtime_checkable
class ChatBackend(Protocol):
    version: str

    def count_tokens(self, request: GenerationRequest) -> int | None:
        """Exact prompt tokens when the backend can count locally; None to estimate."""

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[Chunk]:
        """Yield the answer as it is generated; stop soon after ``cancel`` is set."""

    def close(self) -> None: ...


@runtime_checkable
class EmbeddingBackend(Protocol):
    version: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def close(self) -> None: ...


Backend = ChatBackend | EmbeddingBackend
