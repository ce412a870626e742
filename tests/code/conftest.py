"""The code commands run with the LLM registry's fixtures: one shared model pool, engines
whose ``[llm]`` section a test gives."""

from tests.llm.conftest import caller, llm_engine, model_cache, model_pool

__all__ = ["caller", "llm_engine", "model_cache", "model_pool"]
