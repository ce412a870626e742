"""The ``ollama`` provider through the real LLM registry, against a loopback Ollama.

No Ollama daemon can be assumed in tests, so the fake in ``tests/llm/fake_ollama.py`` stands
in for an Ollama server: every call goes through the real provider (llama-index's ``Ollama``
and the ``ollama`` client over httpx) to Ollama's native ``/api/chat`` on 127.0.0.1, whose
answers can be scripted to fail in specific ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from logomesh.errors import ModelCallError, ModelRequestError, StreamInterruptedError
from logomesh.llm.models import Caller, Completion, GenerationParams, Message, Usage
from tests.llm.fake_ollama import CHUNKS_BEFORE_FAULT, FakeOllamaServer, Fault, split_reply

REPLY = "Hello from the fake Ollama, in several words."
# Token counts the fake reports: unlike the registry's estimates, so a test can tell them apart.
PROMPT_EVAL_COUNT = 27
EVAL_COUNT = 11
# Short waits between attempts, so retried tests take milliseconds.
RETRY = {"attempts": 3, "initial_delay_s": 0.01, "max_delay_s": 0.02}
MESSAGES = [Message("user", "hi")]


@pytest.fixture
def server() -> Iterator[FakeOllamaServer]:
    with FakeOllamaServer(
        reply=REPLY,
        models=["llama3.2"],
        prompt_eval_count=PROMPT_EVAL_COUNT,
        eval_count=EVAL_COUNT,
    ) as srv:
        yield srv


def ollama_model(server: FakeOllamaServer, **extra: Any) -> dict[str, Any]:
    """The ``[[llm.models]]`` table of ``llama3``: Ollama's ``llama3.2`` on the fake."""
    return {
        "name": "llama3",
        "provider": "ollama",
        "options": {"base_url": server.base_url, "model": "llama3.2"},
        "context_window": 4096,
        **extra,
    }


def make_engine(
    llm_engine: Callable[..., Engine], server: FakeOllamaServer, **extra: Any
) -> Engine:
    return llm_engine(models=[ollama_model(server, **extra)], retry=RETRY)


def chat(engine: Engine, caller: Caller, params: GenerationParams | None = None) -> Completion:
    return asyncio.run(engine.llm.chat(MESSAGES, caller, model="llama3", params=params))


def records(engine: Engine) -> list[AuditRecord]:
    return engine.audit.store.query(AuditFilter(action="llm.call", limit=None, oldest_first=True))


def summary(recs: list[AuditRecord]) -> list[tuple[str | None, int, str]]:
    """(model, attempt, outcome) of each record, in order."""
    return [(r.model, r.details["attempt"], r.outcome) for r in recs]


# -- answers ---------------------------------------------------------------------------------


def test_a_streamed_chat_returns_the_reply_and_the_servers_token_counts(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    engine = make_engine(llm_engine, server)

    completion = chat(engine, caller)

    assert completion.text == REPLY
    assert completion.usage == Usage(PROMPT_EVAL_COUNT, EVAL_COUNT, estimated=False)
    assert completion.model == "llama3"
    assert completion.model_version == f"llama3.2@{server.base_url}"
    assert completion.finish_reason == "stop"
    # What reached Ollama: its own model name, the messages, a stream, the context window.
    assert server.calls == 1
    (request,) = server.requests
    assert request["model"] == "llama3.2"
    assert request["messages"] == [{"role": "user", "content": "hi"}]
    assert request.get("stream", True) is True
    assert request["options"]["num_ctx"] == 4096
    (record,) = records(engine)
    assert record.outcome == "ok"
    assert (record.tokens_in, record.tokens_out) == (PROMPT_EVAL_COUNT, EVAL_COUNT)
    assert record.details["tokens_estimated"] is False


def test_a_streamed_chat_arrives_a_piece_at_a_time(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    engine = make_engine(llm_engine, server)
    deltas: list[str] = []

    async def consume() -> None:
        async for delta in engine.llm.stream_chat(MESSAGES, caller, model="llama3"):
            deltas.append(delta)

    asyncio.run(consume())

    assert deltas == split_reply(REPLY)


def test_a_chat_without_streaming(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    engine = make_engine(llm_engine, server, capabilities=["chat"])

    completion = chat(engine, caller)

    assert completion.text == REPLY
    assert completion.usage == Usage(PROMPT_EVAL_COUNT, EVAL_COUNT, estimated=False)
    assert completion.model_version == f"llama3.2@{server.base_url}"
    (request,) = server.requests
    assert request["stream"] is False
    assert request["model"] == "llama3.2"
    assert request["messages"] == [{"role": "user", "content": "hi"}]


def test_sampling_parameters_reach_ollama_as_options(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    engine = make_engine(llm_engine, server)
    params = GenerationParams(temperature=0.0, top_p=0.5, max_tokens=3, seed=7, stop=("END",))

    limited = chat(engine, caller, params)
    plain = chat(engine, caller)

    assert limited.text == "".join(split_reply(REPLY)[:3])  # the fake honours num_predict
    assert server.requests[0]["options"] == {
        "temperature": 0.0,
        "top_p": 0.5,
        "num_predict": 3,
        "seed": 7,
        "stop": ["END"],
        "num_ctx": 4096,
    }
    # The parameters were for one call only.
    assert plain.text == REPLY
    sent = {
        name: value for name, value in server.requests[1]["options"].items() if value is not None
    }
    assert sent == {"num_ctx": 4096}  # llama-index sends "temperature": null when unset


# -- failures --------------------------------------------------------------------------------


def test_a_server_error_is_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    server.script(Fault("status", status=500))
    engine = make_engine(llm_engine, server)

    completion = chat(engine, caller)

    assert completion.text == REPLY
    assert server.calls == 2
    recs = records(engine)
    assert summary(recs) == [("llama3", 1, "error"), ("llama3", 2, "ok")]
    assert "HTTP 500" in (recs[0].error or "")
    assert recs[0].details["retryable"] is True


def test_a_missing_model_is_not_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    server.models = ["qwen2.5"]  # llama3.2 was never pulled: Ollama answers 404
    engine = make_engine(llm_engine, server)

    with pytest.raises(ModelRequestError) as raised:
        chat(engine, caller)

    assert raised.value.status == 404
    assert "HTTP 404" in raised.value.user_message
    assert 'model "llama3.2" not found' in raised.value.user_message
    assert server.calls == 1
    recs = records(engine)
    assert summary(recs) == [("llama3", 1, "error")]
    assert recs[0].details["retryable"] is False


def test_a_stream_closed_midway_is_interrupted_not_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    server.script(Fault("close_mid_stream"))
    engine = make_engine(llm_engine, server)
    received: list[str] = []

    async def consume() -> None:
        async for delta in engine.llm.stream_chat(MESSAGES, caller, model="llama3"):
            received.append(delta)

    with pytest.raises(StreamInterruptedError) as raised:
        asyncio.run(consume())

    partial = "".join(split_reply(REPLY)[:CHUNKS_BEFORE_FAULT])
    assert "".join(received) == partial
    assert f"({len(partial)} characters)" in raised.value.user_message
    assert server.calls == 1  # part of the answer was shown: a retry would repeat it
    assert summary(records(engine)) == [("llama3", 1, "error")]


def test_an_error_line_midway_is_interrupted_not_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    server.script(Fault("error_mid_stream"))
    engine = make_engine(llm_engine, server)

    with pytest.raises(StreamInterruptedError) as raised:
        chat(engine, caller)

    assert "llama runner process has terminated" in raised.value.user_message
    assert server.calls == 1


def test_a_busy_server_is_retried_then_reported(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOllamaServer
) -> None:
    server.script(*[Fault("status", status=503)] * 3)
    engine = make_engine(llm_engine, server)

    with pytest.raises(ModelCallError) as raised:
        chat(engine, caller)

    assert raised.value.retryable
    assert "HTTP 503" in raised.value.user_message
    assert "server busy" in raised.value.user_message
    assert server.calls == 3
    assert summary(records(engine)) == [("llama3", n, "error") for n in (1, 2, 3)]
