"""Fixtures for the LLM registry: one model pool per session, engines that share it.

Loading Gemma takes about a second and MiniLM a few; sharing one pool lets every test use
the real models without paying for them again. Each engine still has its own workspace,
database and audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.commands.values import Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.llm.models import Caller
from logomesh.llm.pool import ModelPool


@pytest.fixture(scope="session")
def model_pool() -> Iterator[ModelPool]:
    pool = ModelPool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the GGUF file is assembled and hashed: the user's cache, as in real use."""
    return Path.home() / ".cache" / "logomesh" / "models"


@pytest.fixture
def llm_engine(
    load: Callable[..., LoadedSettings], model_pool: ModelPool, model_cache: Path
) -> Iterator[Callable[..., Engine]]:
    """``llm_engine(models=[...], **llm_settings)``: an engine whose ``[llm]`` section is
    given as keyword arguments (``models`` is the list of ``[[llm.models]]`` tables)."""
    made: list[Engine] = []

    def _make(**llm: Any) -> Engine:
        flags = {"llm": llm, "nl": {"model_cache_dir": str(model_cache)}}
        loaded = load(flags)
        engine = build_engine(loaded.settings, provenance=loaded.provenance, models=model_pool)
        made.append(engine)
        return engine

    yield _make
    for engine in made:
        engine.close()


@pytest.fixture
def caller() -> Caller:
    return Caller("tester", Source.CLI, correlation_id="corr-test")
