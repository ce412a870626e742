"""Checks of the fake OpenAI server itself, with urllib and (when installed) the openai SDK."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from types import ModuleType
from typing import Any

import pytest

from tests.llm.fake_openai import MALFORMED_JSON, FakeOpenAIServer, Fault, split_reply

REPLY = "Hello from the fake server."

# No proxy, whatever the environment says: the server is on the loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=REPLY) as srv:
        yield srv


def _request(
    server: FakeOpenAIServer,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    timeout: float = 5.0,
) -> tuple[int, Message, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        server.base_url + path,
        data=data,
        headers={"Content-Type": "application/json", "Authorization": "Bearer test-key"},
        method="POST" if data is not None else "GET",
    )
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def _chat(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "say hello please"}]},
        ],
        "stream": stream,
        **extra,
    }


def _events(raw: bytes) -> list[str]:
    """The data of each SSE event in a stream body."""
    blocks = raw.decode().split("\n\n")
    assert blocks[-1] == ""
    out = []
    for block in blocks[:-1]:
        assert block.startswith("data: "), block
        out.append(block.removeprefix("data: "))
    return out


# -- the fake, seen through urllib ----------------------------------------------------------


def test_models(server: FakeOpenAIServer) -> None:
    status, _, raw = _request(server, "/models")
    assert status == 200
    body = json.loads(raw)
    assert body["object"] == "list"
    assert body["data"] == [
        {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}
    ]
    assert server.calls == 0


def test_unknown_path_is_a_json_404(server: FakeOpenAIServer) -> None:
    status, headers, raw = _request(server, "/nope", {"x": 1})
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert "error" in json.loads(raw)
    status, _, _ = _request(server, "/embeddings")
    assert status == 404
    assert server.calls == 0


def test_chat_completion(server: FakeOpenAIServer) -> None:
    status, _, raw = _request(server, "/chat/completions", _chat())
    assert status == 200
    body = json.loads(raw)
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-test"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": REPLY,
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 6, "completion_tokens": 5, "total_tokens": 11}
    assert server.calls == 1
    assert server.requests[0]["_authorization"] == "Bearer test-key"
    assert server.requests[0]["messages"][0]["content"] == "You are terse."


def test_chat_stream_with_usage(server: FakeOpenAIServer) -> None:
    body = _chat(stream=True, stream_options={"include_usage": True})
    status, headers, raw = _request(server, "/chat/completions", body)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    events = _events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert "".join(deltas) == REPLY
    assert len(deltas) == 1 + len(REPLY.split()) + 1
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_chat_stream_without_usage(server: FakeOpenAIServer) -> None:
    _, _, raw = _request(server, "/chat/completions", _chat(stream=True))
    chunks = [json.loads(e) for e in _events(raw)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("reply", ["", "one", "  lead and   gaps\n", "trail  ", "\t "])
def test_split_reply_rejoins_exactly(reply: str) -> None:
    assert "".join(split_reply(reply)) == reply
    assert len(split_reply(reply)) == (len(reply.split()) or (1 if reply else 0))


def test_stream_rejoins_odd_whitespace(server: FakeOpenAIServer) -> None:
    server.reply = "  Hi   there,\n friend  "
    _, _, raw = _request(server, "/chat/completions", _chat(stream=True))
    chunks = [json.loads(e) for e in _events(raw)[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == server.reply


def test_legacy_completions(server: FakeOpenAIServer) -> None:
    body: dict[str, Any] = {"model": "davinci-test", "prompt": "Say this is a test"}
    status, _, raw = _request(server, "/completions", body)
    assert status == 200
    out = json.loads(raw)
    assert out["object"] == "text_completion"
    assert out["choices"] == [
        {"text": REPLY, "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    assert out["usage"]["prompt_tokens"] == 5

    body |= {"stream": True, "stream_options": {"include_usage": True}}
    _, _, raw = _request(server, "/completions", body)
    events = _events(raw)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == REPLY
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 10
    assert server.calls == 2


def test_status_faults(server: FakeOpenAIServer) -> None:
    server.script(
        Fault("status", status=429, retry_after="7"),
        Fault("status", status=503, body="upstream down"),
    )
    status, headers, raw = _request(server, "/chat/completions", _chat())
    assert (status, headers["Retry-After"]) == (429, "7")
    assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"
    status, headers, raw = _request(server, "/chat/completions", _chat())
    assert (status, raw, headers["Retry-After"]) == (503, b"upstream down", None)
    # Exhausted: back to normal answers.
    status, _, raw = _request(server, "/chat/completions", _chat())
    assert status == 200
    assert json.loads(raw)["choices"][0]["message"]["content"] == REPLY
    assert server.calls == 3
    assert server.pending_faults == 0


def test_malformed_and_missing_choices(server: FakeOpenAIServer) -> None:
    server.script(
        Fault("malformed_json"),
        Fault("missing_choices"),
        Fault("missing_choices"),
        Fault("malformed_json"),
    )
    status, headers, raw = _request(server, "/chat/completions", _chat())
    assert (status, headers["Content-Type"], raw.decode()) == (
        200,
        "application/json",
        MALFORMED_JSON,
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    _, _, raw = _request(server, "/chat/completions", _chat())
    assert "choices" not in json.loads(raw)
    _, _, raw = _request(server, "/chat/completions", _chat(stream=True))
    events = _events(raw)
    assert len(events) == 2
    assert events[1] == "[DONE]"
    assert "choices" not in json.loads(events[0])
    _, _, raw = _request(server, "/chat/completions", _chat(stream=True))
    assert _events(raw) == [MALFORMED_JSON, "[DONE]"]


def test_close_before_headers(server: FakeOpenAIServer) -> None:
    server.script(Fault("close_before_headers"))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        _request(server, "/chat/completions", _chat())
    assert server.calls == 1


def test_close_mid_stream(server: FakeOpenAIServer) -> None:
    server.script(Fault("close_mid_stream"), Fault("close_mid_stream"))
    with pytest.raises(http.client.IncompleteRead) as info:
        _request(server, "/chat/completions", _chat())
    assert info.value.partial
    assert info.value.expected

    with pytest.raises(http.client.IncompleteRead) as info:
        _request(server, "/chat/completions", _chat(stream=True))
    partial = info.value.partial.decode()
    assert "[DONE]" not in partial
    chunks = [json.loads(e) for e in _events(partial.encode())]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "Hello", " from"]


def test_slow_then_ok(server: FakeOpenAIServer) -> None:
    server.script(Fault("slow", delay_s=0.2))
    start = time.monotonic()
    status, _, _ = _request(server, "/chat/completions", _chat())
    assert status == 200
    assert time.monotonic() - start >= 0.2


def test_shutdown_with_a_slow_request_in_flight() -> None:
    errors: list[BaseException] = []

    with FakeOpenAIServer() as srv:
        srv.script(Fault("slow", delay_s=30))

        def call() -> None:
            try:
                _request(srv, "/chat/completions", _chat(), timeout=10)
            except BaseException as exc:  # the connection closes without an answer
                errors.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        deadline = time.monotonic() + 2
        while srv.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.calls == 1
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert len(errors) == 1


def test_concurrent_calls_are_counted(server: FakeOpenAIServer) -> None:
    threads = [
        threading.Thread(target=_request, args=(server, "/chat/completions", _chat()))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.calls == 8
    assert len(server.requests) == 8


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault("nonsense")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault("slow", delay_s=-1)
    with pytest.raises(RuntimeError):
        _ = FakeOpenAIServer().base_url


# -- the fake, seen through the official openai SDK ------------------------------------------


@pytest.fixture
def openai_mod() -> ModuleType:
    module: ModuleType = pytest.importorskip("openai")
    return module


def _client(openai_mod: ModuleType, server: FakeOpenAIServer, **kwargs: Any) -> Any:
    return openai_mod.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, **kwargs)


_MESSAGES = [{"role": "user", "content": "hi"}]


def test_sdk_chat(openai_mod: ModuleType, server: FakeOpenAIServer) -> None:
    client = _client(openai_mod, server)
    completion = client.chat.completions.create(model="m", messages=_MESSAGES)
    assert completion.choices[0].message.content == REPLY
    assert completion.model == "m"
    assert completion.usage.total_tokens == 6
    assert server.requests[0]["_authorization"] == "Bearer x"
    assert [m.id for m in client.models.list()] == ["fake-model"]


def test_sdk_stream(openai_mod: ModuleType, server: FakeOpenAIServer) -> None:
    client = _client(openai_mod, server)
    stream = client.chat.completions.create(
        model="m", messages=_MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 5

    legacy = client.completions.create(model="m", prompt="hi", stream=True)
    assert "".join(c.choices[0].text for c in legacy) == REPLY


def test_sdk_rate_limit_and_server_error(openai_mod: ModuleType, server: FakeOpenAIServer) -> None:
    client = _client(openai_mod, server)
    server.script(Fault("status", status=429, retry_after="3"), Fault("status", status=500))
    with pytest.raises(openai_mod.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=_MESSAGES)
    assert info.value.response.headers["retry-after"] == "3"
    assert info.value.status_code == 429
    with pytest.raises(openai_mod.InternalServerError):
        client.chat.completions.create(model="m", messages=_MESSAGES)
    # Script exhausted: back to normal.
    completion = client.chat.completions.create(model="m", messages=_MESSAGES)
    assert completion.choices[0].message.content == REPLY
    assert server.calls == 3


def test_sdk_malformed_json(openai_mod: ModuleType, server: FakeOpenAIServer) -> None:
    client = _client(openai_mod, server)
    server.script(Fault("malformed_json"))
    with pytest.raises((ValueError, openai_mod.APIError)):
        client.chat.completions.create(model="m", messages=_MESSAGES)


def test_sdk_close_mid_stream(openai_mod: ModuleType, server: FakeOpenAIServer) -> None:
    client = _client(openai_mod, server)
    server.script(Fault("close_mid_stream"), Fault("close_mid_stream"))
    stream = client.chat.completions.create(model="m", messages=_MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(Exception) as info:  # the transport's "incomplete chunked read"
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert not isinstance(info.value, AssertionError)
    assert "".join(received) in ("", "Hello", "Hello from")
    with pytest.raises(openai_mod.APIConnectionError):
        client.chat.completions.create(model="m", messages=_MESSAGES)


def test_sdk_close_before_headers_and_timeout(
    openai_mod: ModuleType, server: FakeOpenAIServer
) -> None:
    server.script(Fault("close_before_headers"), Fault("slow", delay_s=30))
    client = _client(openai_mod, server, timeout=0.2)
    with pytest.raises(openai_mod.APIConnectionError):
        client.chat.completions.create(model="m", messages=_MESSAGES)
    with pytest.raises(openai_mod.APITimeoutError):
        client.chat.completions.create(model="m", messages=_MESSAGES)
