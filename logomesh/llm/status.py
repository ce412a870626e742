"""What ``logomesh llm list`` shows of each model: its place in the catalog and its state
(ready, loaded, cooling down, offline, unavailable), without loading or importing anything.
"""

from __future__ import annotations

from typing import Any

from logomesh.llm.catalog import is_remote, missing_package
from logomesh.llm.service import LLMService
from logomesh.llm.settings import ModelConfig


def describe_models(service: LLMService) -> list[dict[str, Any]]:
    """Every model with its state, for ``logomesh llm list``; loads and imports nothing."""
    rows = []
    for config in service.catalog:
        state, detail = _state_of(service, config)
        rows.append(
            {
                "name": config.name,
                "aliases": list(config.aliases),
                "provider": str(config.provider),
                "description": config.description,
                "good_for": config.good_for,
                "capabilities": [str(c) for c in config.capabilities],
                "context_window": config.context_window,
                "default_for": service.catalog.purposes_of(config.name),
                "fallbacks": list(config.fallbacks),
                "cost_per_token": {"input": config.cost.input, "output": config.cost.output},
                "remote": is_remote(config),
                "state": state,
                "detail": detail,
            }
        )
    return rows


def _state_of(service: LLMService, config: ModelConfig) -> tuple[str, str]:
    missing = missing_package(config)
    if missing is not None:
        return "unavailable", missing.user_message
    if not service.settings.allow_network and is_remote(config):
        return "offline", "network calls are off (offline mode)"
    cooling = service.health.cooling_for(config.name)
    if cooling > 0:
        return (
            "cooling down",
            f"{cooling:.0f} s left; last error: {service.health.last_error(config.name)}",
        )
    if service.pool.is_loaded(config):
        return "loaded", ""
    return "ready", "loads on first use"
