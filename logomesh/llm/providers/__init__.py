"""Providers: each turns a model's configuration into a backend, importing its SDK lazily.

Adding a provider is one module with a ``load(config, context)`` function and one line in
``_LOADERS``. Anything llama-index supports needs no module at all: the ``llama-index``
provider builds any llama-index LLM or embedding class named in configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from logomesh.errors import ConfigError, ProviderMissingError
from logomesh.llm.catalog import missing_package
from logomesh.llm.providers.base import Backend, LoadContext
from logomesh.llm.settings import ModelConfig, ProviderName

M = TypeVar("M", bound=BaseModel)

_LOADERS: dict[ProviderName, str] = {
    ProviderName.LLAMA_CPP: "logomesh.llm.providers.llama_cpp",
    ProviderName.OPENAI_COMPATIBLE: "logomesh.llm.providers.openai_compatible",
    ProviderName.OLLAMA: "logomesh.llm.providers.ollama",
    ProviderName.ANTHROPIC: "logomesh.llm.providers.anthropic",
    ProviderName.SENTENCE_TRANSFORMERS: "logomesh.llm.providers.sentence_transformers",
    ProviderName.LLAMA_INDEX: "logomesh.llm.providers.generic",
}


def load_backend(config: ModelConfig, context: LoadContext) -> Backend:
    missing = missing_package(config)
    if missing is not None:
        raise missing
    module = import_module(_LOADERS[config.provider])
    loader: Callable[[ModelConfig, LoadContext], Backend] = module.load
    try:
        return loader(config, context)
    except ImportError as exc:
        raise ProviderMissingError(
            f"Model {config.name}: the {config.provider} provider could not import "
            f"{exc.name or 'a package it needs'} ({exc})."
        ) from exc


def parse_options(model: type[M], config: ModelConfig) -> M:
    """A provider's options table, checked with errors that name the model and the key."""
    try:
        return model.model_validate(config.options)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields)
                problems.append(f"`options.{key}` is not a {config.provider} option ({known})")
            else:
                problems.append(f"`options.{key}`: {error['msg']}")
        raise ConfigError(
            f"[[llm.models]] {config.name}: " + "; ".join(problems) + ". Fix it in logomesh.toml."
        ) from exc


def api_key(options: Any, context: LoadContext, default_env: str) -> str | None:
    """The API key from ``api_key`` or the variable named by ``api_key_env``."""
    direct: str | None = getattr(options, "api_key", None)
    if direct:
        return direct
    name = getattr(options, "api_key_env", None) or default_env
    return context.environ.get(name)
