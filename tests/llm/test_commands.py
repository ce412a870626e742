"""The registry's commands through the one door: authorisation, audit links, usage sums."""

from __future__ import annotations

import getpass
from collections.abc import Callable

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.engine import Engine
from logomesh.events import CommandOutputDelta

MOCK = {
    "name": "mock",
    "provider": "llama-index",
    "options": {"class": "llama_index.core.llms.MockLLM", "kwargs": {"max_tokens": 5},
                "local": True},
    "cost": {"input": 0.5, "output": 2.0},
}  # fmt: skip
ME = Actor(Source.CLI, getpass.getuser())


def test_llm_ask_links_every_model_call_to_the_command(
    llm_engine: Callable[..., Engine],
) -> None:
    engine = llm_engine()
    deltas: list[str] = []
    engine.events.subscribe(CommandOutputDelta, lambda event: deltas.append(event.text))
    request = CommandRequest(
        "llm.ask", ME, {"prompt": "What is CI?", "max_tokens": 12, "temperature": 0}
    )
    result = run_sync(engine, request)
    assert result.ok, result.message
    assert "".join(deltas).strip() == result.message
    calls = engine.audit.store.query(AuditFilter(correlation_id=request.correlation_id))
    actions = sorted(record.action for record in calls)
    assert actions == ["llm.ask", "llm.call"]
    call = next(record for record in calls if record.action == "llm.call")
    assert call.actor == getpass.getuser() and call.source == "cli"
    assert call.model == "gemma-3-270m"


def test_usage_sums_tokens_and_cost_per_model_user_and_day(
    llm_engine: Callable[..., Engine],
) -> None:
    engine = llm_engine(models=[MOCK])
    for prompt in ("one", "two two"):
        assert run_sync(
            engine, CommandRequest("llm.ask", ME, {"prompt": prompt, "model": "mock"})
        ).ok
    calls = engine.audit.store.query(AuditFilter(action="llm.call", limit=None))
    result = run_sync(engine, CommandRequest("llm.usage", ME, {"since": "1d"}))
    assert result.ok
    [row] = result.data
    assert row["model"] == "mock" and row["actor"] == getpass.getuser() and row["calls"] == 2
    assert row["tokens_in"] == sum(record.tokens_in or 0 for record in calls)
    assert row["tokens_out"] == sum(record.tokens_out or 0 for record in calls)
    expected = row["tokens_in"] * 0.5 + row["tokens_out"] * 2.0
    assert abs(row["cost_usd"] - expected) < 1e-9
    only_gemma = run_sync(engine, CommandRequest("llm.usage", ME, {"model": "gemma"}))
    assert only_gemma.ok and only_gemma.data == []


def test_a_viewer_may_neither_list_nor_ask_and_the_refusal_is_recorded(
    llm_engine: Callable[..., Engine],
) -> None:
    engine = _engine_with_viewer(llm_engine)
    denied = run_sync(
        engine, CommandRequest("llm.ask", Actor(Source.CLI, "vera"), {"prompt": "hi"})
    )
    assert denied.outcome == "denied"
    listed = run_sync(engine, CommandRequest("llm.list", Actor(Source.CLI, "vera")))
    assert listed.outcome == "denied"
    [record] = engine.audit.store.query(AuditFilter(action="llm.ask"))
    assert record.outcome == "denied"
    assert record.details["authorization"]["allowed"] is False
    assert not engine.audit.store.query(AuditFilter(action="llm.call"))
    engine.close()


def _engine_with_viewer(llm_engine: Callable[..., Engine]) -> Engine:
    from logomesh.config import load_settings

    base = llm_engine()
    flags = {
        "security": {
            "require_roles": True,
            "identities": [{"name": "vera", "roles": ["viewer"], "cli": ["vera"]}],
        }
    }
    settings = load_settings(base.settings.workspace, flags, environ={"HOME": "/nonexistent"})
    return build_engine(settings.settings, models=base.llm.pool)


def test_llm_test_reports_a_fallback_answer(llm_engine: Callable[..., Engine]) -> None:
    engine = llm_engine(
        models=[
            {
                "name": "down",
                "provider": "openai-compatible",
                "options": {"base_url": "http://127.0.0.1:9/v1", "model": "m"},
                "fallbacks": ["mock"],
            },
            MOCK,
        ],
        retry={"attempts": 1},
    )
    result = run_sync(engine, CommandRequest("llm.test", ME, {"model": "down"}))
    # MockLLM answers "text text ...", so the fallback answers but fails the probe.
    assert not result.ok
    assert "down (answered by fallback mock) answers but does not follow" in result.message
