"""Any llama-index LLM or embedding class, named in configuration.

``options.class`` is the import path (``llama_index.llms.groq.Groq``) and ``options.kwargs``
its constructor arguments, so a team can register whatever integration it already runs
without LogoMesh shipping a provider for it. ``options.version`` names the model in audit
records (default: the class path and its ``model`` argument).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from logomesh.errors import ConfigError
from logomesh.llm.providers import parse_options
from logomesh.llm.providers.base import Backend, LoadContext
from logomesh.llm.providers.wrapped import LlamaIndexChat, LlamaIndexEmbedding
from logomesh.llm.settings import Capability, ModelConfig


class GenericOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    class_path: str = Field(alias="class", pattern=r"^[\w.]+\.\w+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    version: str | None = None
    local: bool = False


def load(config: ModelConfig, context: LoadContext) -> Backend:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import LLM

    options = parse_options(GenericOptions, config)
    module_name, _, class_name = options.class_path.rpartition(".")
    cls = getattr(import_module(module_name), class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, LLM | BaseEmbedding):
        raise ConfigError(
            f"[[llm.models]] {config.name}: `options.class` = {options.class_path!r} is not a "
            "llama-index LLM or BaseEmbedding class."
        )
    instance = cls(**options.kwargs)
    version = options.version or f"{options.class_path}:{options.kwargs.get('model', '')}"
    if isinstance(instance, BaseEmbedding):
        return LlamaIndexEmbedding(instance, version)
    return LlamaIndexChat(instance, version, streaming=Capability.STREAMING in config.capabilities)
