"""Retries, fallbacks, cooldowns and audit records of the real LLM registry, over HTTP.

Tests cannot reach OpenAI or any other OpenAI-compatible server, so the loopback fake in
``tests/llm/fake_openai.py`` stands in for them: every request goes through the real
``openai-compatible`` provider (llama-index's ``OpenAILike`` and the openai SDK over httpx)
to a server on 127.0.0.1 whose answers are scripted to fail in specific ways. The fallback
of one test is the real in-process Gemma 3 270M; the others fall back to a second model
served by a fake, to stay fast.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from logomesh.errors import (
    LLMError,
    MalformedResponseError,
    ModelRequestError,
    ModelUnavailableError,
    StreamInterruptedError,
)
from logomesh.llm.models import (
    Caller,
    Completion,
    GenerationParams,
    GenerationRequest,
    Message,
    Usage,
)
from logomesh.llm.providers.base import LoadContext
from logomesh.llm.settings import ModelConfig
from logomesh.llm.status import describe_models
from tests.llm.fake_openai import FakeOpenAIServer, Fault, split_reply

REPLY = "Hello from the fake server, in several words."
# Short waits between attempts, so retried tests take milliseconds.
RETRY = {"attempts": 3, "initial_delay_s": 0.01, "max_delay_s": 0.05}
# Gemma answers a few tokens, greedily: fast and repeatable.
SHORT = GenerationParams(max_tokens=8, temperature=0)
MESSAGES = [Message("user", "Say hello.")]


@pytest.fixture(scope="module", autouse=True)
def _warm_openai_sdk(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Pay the SDKs' first-use cost (imports, client set-up: seconds) once, up front.

    Otherwise the first remote attempt of the module may spend its short ``timeout_s``
    importing llama-index and openai, and time out before it sends anything.
    """
    from logomesh.llm.providers.openai_compatible import load

    with FakeOpenAIServer(reply="warm") as server:
        config = ModelConfig.model_validate(remote(server, "warm-up"))
        backend = load(config, LoadContext(tmp_path_factory.mktemp("warm")))
        request = GenerationRequest(messages=(Message("user", "hi"),))
        assert "".join(c.text for c in backend.stream(request, threading.Event())) == "warm"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=REPLY) as srv:
        yield srv


# -- helpers ---------------------------------------------------------------------------------


def remote(
    target: FakeOpenAIServer | str, name: str = "remote", *, model: str = "fake-model", **table: Any
) -> dict[str, Any]:
    """A ``[[llm.models]]`` table for an openai-compatible model at a fake (or a URL)."""
    base_url = target if isinstance(target, str) else target.base_url
    return {
        "name": name,
        "provider": "openai-compatible",
        "options": {"base_url": base_url, "model": model},
        "context_window": 4096,
        **table,
    }


def closed_port_url() -> str:
    """A loopback URL where nothing listens: its port was bound once, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def records(engine: Engine, action: str = "llm.call") -> list[AuditRecord]:
    return engine.audit.store.query(AuditFilter(action=action, limit=None, oldest_first=True))


def code_of(record: AuditRecord) -> str | None:
    """The error code of a record (its error reads ``[code] message``)."""
    if record.error is None:
        return None
    assert record.error.startswith("["), record.error
    return record.error[1 : record.error.index("]")]


def summary(recs: list[AuditRecord]) -> list[tuple[str | None, int, str, str | None]]:
    """(model, attempt, outcome, error code) of each record, in order."""
    return [(r.model, r.details["attempt"], r.outcome, code_of(r)) for r in recs]


def attempts_of(completion: Completion) -> list[tuple[str, int, str, str | None]]:
    return [(a.model, a.attempt, a.outcome, a.error_code) for a in completion.attempts]


def chat(engine: Engine, caller: Caller, model: str = "remote", **kwargs: Any) -> Completion:
    return asyncio.run(engine.llm.chat(MESSAGES, caller, model=model, **kwargs))


def payload(engine: Engine, digest: str | None) -> str | None:
    if digest is None:
        return None
    return engine.audit.store.payloads([digest])[digest].decode("utf-8")


# -- retried failures ------------------------------------------------------------------------


def test_rate_limited_twice_then_answers_after_retry_after(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(
        Fault("status", status=429, retry_after="0.05"),
        Fault("status", status=429, retry_after="0.05"),
    )
    # No backoff of its own: any wait between attempts is the server's Retry-After.
    engine = llm_engine(
        models=[remote(server)], retry={"attempts": 3, "initial_delay_s": 0, "max_delay_s": 0}
    )

    started = time.perf_counter()
    completion = chat(engine, caller)
    elapsed = time.perf_counter() - started

    assert completion.text == REPLY
    assert completion.model == "remote"
    assert server.calls == 3
    assert elapsed >= 0.1  # two waits of Retry-After: 0.05
    recs = records(engine)
    assert summary(recs) == [
        ("remote", 1, "error", "llm.rate_limited"),
        ("remote", 2, "error", "llm.rate_limited"),
        ("remote", 3, "ok", None),
    ]
    assert [r.correlation_id for r in recs] == [caller.correlation_id] * 3
    assert [r.details["fallback_index"] for r in recs] == [0, 0, 0]
    assert recs[0].details["retryable"] is True
    assert "0.05 s" in (recs[0].error or "")
    assert attempts_of(completion) == [
        ("remote", 1, "error", "llm.rate_limited"),
        ("remote", 2, "error", "llm.rate_limited"),
        ("remote", 3, "ok", None),
    ]
    assert [a.audit_id for a in completion.attempts] == [r.id for r in recs]


def test_server_errors_are_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(Fault("status", status=500), Fault("status", status=503))
    engine = llm_engine(models=[remote(server)], retry=RETRY)

    completion = chat(engine, caller)

    assert completion.text == REPLY
    assert server.calls == 3
    recs = records(engine)
    assert summary(recs) == [
        ("remote", 1, "error", "llm.server_error"),
        ("remote", 2, "error", "llm.server_error"),
        ("remote", 3, "ok", None),
    ]
    assert "HTTP 500" in (recs[0].error or "")
    assert "HTTP 503" in (recs[1].error or "")


def test_a_slow_answer_times_out_and_is_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(Fault("slow", delay_s=3.0))
    engine = llm_engine(models=[remote(server, timeout_s=0.4)], retry=RETRY)

    started = time.perf_counter()
    completion = chat(engine, caller)
    elapsed = time.perf_counter() - started

    assert completion.text == REPLY
    assert elapsed < 2.5  # the slow answer was not waited for
    assert server.calls == 2
    recs = records(engine)
    assert summary(recs) == [("remote", 1, "error", "llm.timeout"), ("remote", 2, "ok", None)]
    assert recs[0].details["retryable"] is True


def test_a_connection_closed_before_headers_is_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(Fault("close_before_headers"))
    engine = llm_engine(models=[remote(server)], retry=RETRY)

    completion = chat(engine, caller)

    assert completion.text == REPLY
    assert server.calls == 2
    assert summary(records(engine)) == [
        ("remote", 1, "error", "llm.connection"),
        ("remote", 2, "ok", None),
    ]


# -- failures that are not retried -----------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401])
def test_a_rejected_request_is_not_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer, status: int
) -> None:
    server.script(Fault("status", status=status), Fault("status", status=status))
    engine = llm_engine(models=[remote(server)], retry=RETRY)

    with pytest.raises(ModelRequestError) as raised:
        chat(engine, caller)

    assert raised.value.code == "llm.request_rejected"
    assert raised.value.status == status
    assert f"HTTP {status}" in raised.value.user_message
    if status == 401:
        assert "api_key_env" in raised.value.user_message
    assert server.calls == 1
    recs = records(engine)
    assert summary(recs) == [("remote", 1, "error", "llm.request_rejected")]
    assert recs[0].details["retryable"] is False
    assert recs[0].correlation_id == caller.correlation_id


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "not-streamed"])
@pytest.mark.parametrize("kind", ["malformed_json", "missing_choices"])
def test_a_malformed_response_is_not_retried(
    llm_engine: Callable[..., Engine],
    caller: Caller,
    server: FakeOpenAIServer,
    kind: Any,
    streaming: bool,
) -> None:
    server.script(Fault(kind), Fault(kind))
    capabilities = ["chat", "streaming"] if streaming else ["chat"]
    engine = llm_engine(models=[remote(server, capabilities=capabilities)], retry=RETRY)

    with pytest.raises(MalformedResponseError) as raised:
        chat(engine, caller)

    assert raised.value.code == "llm.malformed_response"
    assert server.calls == 1
    assert server.requests[0]["stream"] is streaming
    recs = records(engine)
    assert summary(recs) == [("remote", 1, "error", "llm.malformed_response")]
    assert recs[0].details["retryable"] is False


def test_a_stream_closed_midway_is_interrupted_not_retried(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(Fault("close_mid_stream"))
    engine = llm_engine(models=[remote(server, fallbacks=["backup"]), remote(server, "backup")])
    received: list[str] = []

    async def consume() -> None:
        stream = engine.llm.stream_chat(MESSAGES, caller, model="remote")
        try:
            async for delta in stream:
                received.append(delta)
        finally:
            assert stream.completion is not None
            assert stream.completion.text == "".join(received)

    with pytest.raises(StreamInterruptedError) as raised:
        asyncio.run(consume())

    assert raised.value.code == "llm.stream_interrupted"
    partial = "".join(split_reply(REPLY)[:2])  # the fake sends two words, then hangs up
    assert "".join(received) == partial
    assert f"({len(partial)} characters)" in raised.value.user_message
    # Part of the answer was shown: neither a retry nor the fallback may repeat it.
    assert server.calls == 1
    recs = records(engine)
    assert summary(recs) == [("remote", 1, "error", "llm.stream_interrupted")]
    assert payload(engine, recs[0].response_hash) == partial
    assert recs[0].details["response_chars"] == len(partial)


# -- fallbacks and cooldown ------------------------------------------------------------------


def test_an_unreachable_model_falls_back_to_local_gemma(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine(models=[remote(closed_port_url(), fallbacks=["gemma-3-270m"])], retry=RETRY)

    completion = chat(engine, caller, params=SHORT)

    assert completion.model == "gemma-3-270m"
    assert completion.model_version.startswith("sha256:")
    assert completion.usage.tokens_in > 0 and not completion.usage.estimated
    recs = records(engine)
    assert summary(recs) == [
        ("remote", 1, "error", "llm.connection"),
        ("remote", 2, "error", "llm.connection"),
        ("remote", 3, "error", "llm.connection"),
        ("gemma-3-270m", 1, "ok", None),
    ]
    assert [r.details["fallback_index"] for r in recs] == [0, 0, 0, 1]
    assert {r.correlation_id for r in recs} == {caller.correlation_id}
    assert payload(engine, recs[-1].response_hash) == completion.text
    assert attempts_of(completion) == [
        ("remote", 1, "error", "llm.connection"),
        ("remote", 2, "error", "llm.connection"),
        ("remote", 3, "error", "llm.connection"),
        ("gemma-3-270m", 1, "ok", None),
    ]
    assert [a.audit_id for a in completion.attempts] == [r.id for r in recs]


def test_a_retry_after_too_long_goes_straight_to_the_fallback(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(Fault("status", status=429, retry_after="30"))
    engine = llm_engine(
        models=[
            remote(server, fallbacks=["backup"]),
            remote(server, "backup", model="backup-model"),
        ],
        retry={**RETRY, "max_retry_after_s": 5},
    )

    started = time.perf_counter()
    completion = chat(engine, caller)
    elapsed = time.perf_counter() - started

    assert elapsed < 10  # far below the 30 s asked for: nobody waited
    assert completion.model == "backup"
    assert completion.text == REPLY
    assert [r["model"] for r in server.requests] == ["fake-model", "backup-model"]
    recs = records(engine)
    assert summary(recs) == [
        ("remote", 1, "error", "llm.rate_limited"),
        ("backup", 1, "ok", None),
    ]
    assert [r.details["fallback_index"] for r in recs] == [0, 1]


def _state(engine: Engine, name: str) -> str:
    return str(next(r["state"] for r in describe_models(engine.llm) if r["name"] == name))


def test_a_failing_model_cools_down_and_is_skipped(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    engine = llm_engine(
        models=[
            remote(closed_port_url(), fallbacks=["backup"]),
            remote(server, "backup", model="backup-model"),
        ],
        retry=RETRY,
        cooldown={"after_failures": 2, "seconds": 60},
    )

    first = chat(engine, caller)
    assert first.model == "backup"
    assert _state(engine, "remote") != "cooling down"  # one failed call is not enough
    second = chat(engine, caller)
    assert second.model == "backup"
    assert _state(engine, "remote") == "cooling down"
    done = len(records(engine))
    third = chat(engine, caller)

    assert third.model == "backup"
    assert third.text == REPLY
    failed_over = [("remote", n, "error", "llm.connection") for n in (1, 2, 3)]
    assert attempts_of(first) == attempts_of(second) == [*failed_over, ("backup", 1, "ok", None)]
    assert attempts_of(third) == [
        ("remote", 0, "error", "llm.unavailable"),
        ("backup", 1, "ok", None),
    ]
    skipped, answered = records(engine)[done:]
    assert summary([skipped]) == [("remote", 0, "error", "llm.unavailable")]
    assert "cooling down" in (skipped.error or "")
    assert summary([answered]) == [("backup", 1, "ok", None)]
    assert answered.details["fallback_index"] == 1
    assert _state(engine, "backup") != "cooling down"
    assert server.calls == 3  # the backup's three answers


def test_a_cooling_model_is_not_contacted(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    """As above, with a primary that answers 503 so its requests can be counted."""
    with FakeOpenAIServer() as failing:
        failing.script(*[Fault("status", status=503)] * 10)
        engine = llm_engine(
            models=[remote(failing, fallbacks=["backup"]), remote(server, "backup")],
            retry={**RETRY, "attempts": 2},
            cooldown={"after_failures": 2, "seconds": 60},
        )
        for _ in range(2):
            assert chat(engine, caller).model == "backup"
        assert failing.calls == 4
        completion = chat(engine, caller)

        assert completion.model == "backup"
        assert failing.calls == 4
        assert attempts_of(completion)[0] == ("remote", 0, "error", "llm.unavailable")
        assert server.calls == 3


# -- what the records hold -------------------------------------------------------------------


def test_streamed_usage_and_cost_come_from_the_server(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.reply = "alpha beta gamma delta"
    engine = llm_engine(models=[remote(server, cost={"input": 0.001, "output": 0.002})])
    deltas: list[str] = []

    async def consume() -> Completion:
        stream = engine.llm.stream_chat([Message("user", "one two three")], caller, model="remote")
        async for delta in stream:
            deltas.append(delta)
        assert stream.completion is not None
        return stream.completion

    completion = asyncio.run(consume())

    assert deltas == ["alpha", " beta", " gamma", " delta"]  # streamed, a word at a time
    assert "".join(deltas) == completion.text == server.reply
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["stream_options"] == {"include_usage": True}
    # The fake counts words: 3 in, 4 out (the estimates would be 5 and 6).
    assert completion.usage == Usage(3, 4, estimated=False)
    assert completion.cost_usd == pytest.approx(3 * 0.001 + 4 * 0.002)
    (record,) = records(engine)
    assert (record.tokens_in, record.tokens_out) == (3, 4)
    assert record.details["tokens_estimated"] is False
    assert record.details["cost_usd"] == pytest.approx(3 * 0.001 + 4 * 0.002)
    assert payload(engine, record.prompt_hash) == "user: one two three"
    assert payload(engine, record.response_hash) == server.reply


def test_the_api_key_reaches_the_server_but_never_the_audit_trail(
    llm_engine: Callable[..., Engine],
    caller: Caller,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shaped like no known token, so the trail's redaction could not hide a leak.
    key = f"lm{secrets.token_hex(12)}"
    monkeypatch.setenv("LOGOMESH_TEST_FAKE_API_KEY", key)
    server.script(Fault("status", status=500))
    table = remote(server)
    table["options"]["api_key_env"] = "LOGOMESH_TEST_FAKE_API_KEY"
    engine = llm_engine(models=[table], retry=RETRY)

    completion = chat(engine, caller)

    assert completion.text == REPLY
    assert [r["_authorization"] for r in server.requests] == [f"Bearer {key}"] * 2
    recs = engine.audit.store.query(AuditFilter(limit=None, oldest_first=True))
    assert summary([r for r in recs if r.action == "llm.call"]) == [
        ("remote", 1, "error", "llm.server_error"),
        ("remote", 2, "ok", None),
    ]
    hashes = [h for r in recs for h in (r.prompt_hash, r.response_hash) if h]
    assert hashes
    texts = [json.dumps(r.to_dict()) for r in recs]
    texts += [raw.decode() for raw in engine.audit.store.payloads(hashes).values()]
    assert not [text for text in texts if key in text]
    # Nor anywhere in the engine's files (database, write-ahead log, spool).
    state_dir = Path(engine.settings.state_dir)
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if key.encode() in p.read_bytes()]


def test_offline_mode_refuses_remote_models_before_any_network_use(
    llm_engine: Callable[..., Engine],
    caller: Caller,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def spy(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    engine = llm_engine(
        models=[remote("https://api.example.com/v1", "cloud"), remote(server, "nearby")],
        allow_network=False,
        retry=RETRY,
    )

    with pytest.raises(ModelUnavailableError) as raised:
        chat(engine, caller, model="cloud")

    assert raised.value.code == "llm.unavailable"
    assert "network calls are off" in raised.value.user_message
    assert not engine.llm.pool.is_loaded(engine.llm.catalog.get("cloud"))
    assert summary(records(engine)) == [("cloud", 0, "error", "llm.unavailable")]
    assert _state(engine, "cloud") == "offline"

    completion = chat(engine, caller, model="nearby")  # a loopback server is not the network

    assert completion.text == REPLY
    assert server.calls == 1
    assert "127.0.0.1" in looked_up  # the spy sees lookups...
    assert not [host for host in looked_up if "example.com" in host]  # ...and saw none here


@pytest.mark.parametrize("limit", [1, 3])
def test_max_concurrency_limits_requests_in_flight(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer, limit: int
) -> None:
    server.script(*[Fault("slow", delay_s=0.3)] * 3)
    engine = llm_engine(models=[remote(server, max_concurrency=limit)])

    async def three_at_once() -> list[Completion]:
        calls = [engine.llm.chat(MESSAGES, caller, model="remote") for _ in range(3)]
        return list(await asyncio.gather(*calls))

    started = time.perf_counter()
    completions = asyncio.run(three_at_once())
    elapsed = time.perf_counter() - started

    assert [c.text for c in completions] == [REPLY] * 3
    assert server.calls == 3
    if limit == 1:
        assert server.max_in_flight == 1
        assert elapsed >= 0.9  # one after another
    else:  # the control: without the limit, the fake does see requests overlap
        assert server.max_in_flight > 1
    assert [r.outcome for r in records(engine)] == ["ok"] * 3


def test_all_models_failing_names_each_one(
    llm_engine: Callable[..., Engine], caller: Caller, server: FakeOpenAIServer
) -> None:
    server.script(Fault("status", status=400))
    engine = llm_engine(
        models=[remote(closed_port_url(), fallbacks=["backup"]), remote(server, "backup")],
        retry={**RETRY, "attempts": 2},
    )

    with pytest.raises(LLMError) as raised:
        chat(engine, caller)

    assert raised.value.code == "llm.all_failed"
    assert "remote:" in raised.value.user_message
    assert "backup:" in raised.value.user_message
    assert summary(records(engine)) == [
        ("remote", 1, "error", "llm.connection"),
        ("remote", 2, "error", "llm.connection"),
        ("backup", 1, "error", "llm.request_rejected"),
    ]
