"""A loopback stand-in for an OpenAI-compatible server; real OpenAI cannot be reached from tests.

LogoMesh's LLM registry talks to OpenAI-compatible HTTP APIs. Its tests must never reach a
cloud service, so this module runs a small HTTP server on 127.0.0.1 (standard library only)
that speaks the subset of the OpenAI API the registry uses:

* ``GET  /v1/models``
* ``POST /v1/chat/completions`` (plain, and ``"stream": true`` with or without
  ``stream_options.include_usage``)
* ``POST /v1/completions`` (legacy completions, plain and streaming)

Calls to the two generation endpoints can be scripted to fail in specific ways (see
:class:`Fault`), so retries, fallbacks and the handling of malformed answers can be tested
deterministically::

    with FakeOpenAIServer(reply="hi there") as server:
        server.script(Fault("status", status=429, retry_after="0"), Fault("ok"))
        client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        ...

Streams are sent with ``Transfer-Encoding: chunked`` and ``Connection: close``: a chunked body
has an explicit end, so a connection closed mid-stream (``close_mid_stream``) is an error the
client sees (``httpx.RemoteProtocolError``, ``http.client.IncompleteRead``), not a short but
apparently complete answer. Every response closes its connection, so no idle keep-alive
connection outlives the server.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final, Literal, cast
from urllib.parse import urlsplit

from tests.llm.loopback import (
    CommonFaultKind,
    LoopbackFault,
    LoopbackHandler,
    LoopbackServer,
    split_reply,
)

__all__ = ["FakeOpenAIServer", "Fault", "FaultKind"]

FaultKind = Literal[CommonFaultKind, "missing_choices", "choices_not_a_list"]

CHAT_PATH: Final = "/v1/chat/completions"
COMPLETIONS_PATH: Final = "/v1/completions"
MODELS_PATH: Final = "/v1/models"

#: The body sent for ``malformed_json``: JSON cut off in the middle.
MALFORMED_JSON: Final = '{"id": "x", "choices": ['

# status -> (error type, error code), as the real API reports them.
_ERROR_KINDS: Final[dict[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}


@dataclass
class Fault(LoopbackFault):
    """How the server answers one call to a generation endpoint.

    * ``ok``: a normal answer.
    * ``status``: HTTP ``status`` with ``body`` (default: an OpenAI-style error JSON) and,
      if ``retry_after`` is set, a ``Retry-After`` header.
    * ``slow``: wait ``delay_s`` seconds, then a normal answer (the wait ends early, without an
      answer, when the server shuts down).
    * ``malformed_json``: 200 ``application/json`` whose body is truncated JSON; for a stream,
      one SSE event whose data is that truncated JSON, then ``[DONE]``.
    * ``missing_choices``: 200 with valid JSON lacking ``choices``; for a stream, one SSE event
      whose JSON lacks ``choices``, then ``[DONE]``.
    * ``choices_not_a_list``: as ``missing_choices``, but ``choices`` is the string ``"none"``.
    * ``close_mid_stream``: for a stream, the first chunks (chat: the role chunk and two word
      chunks; legacy completions: two word chunks) and then the connection closes without
      ``[DONE]`` or the end of the chunked body; otherwise the headers with the full
      ``Content-Length``, half of the body, and then the connection closes.
    * ``close_before_headers``: the connection closes without any response.
    """

    kind: FaultKind
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    body: str | None = None


def count_words(value: object) -> int:
    """Whitespace-separated words in a prompt or message content (str, parts or lists)."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, int) and not isinstance(value, bool):
        return 1  # a token id in a legacy ``prompt`` list
    if isinstance(value, list):
        return sum(count_words(item) for item in value)
    if isinstance(value, dict):
        text = value.get("text")
        return count_words(text) if isinstance(text, str) else 0
    return 0


class _Handler(LoopbackHandler):
    server_version = "FakeOpenAI/1.0"
    stream_content_type = "text/event-stream; charset=utf-8"
    stream_headers = {"Cache-Control": "no-cache"}

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def fake(self) -> FakeOpenAIServer:
        return cast(FakeOpenAIServer, super().fake)

    def _send_error_json(
        self,
        status: int,
        message: str | None = None,
        *,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if body is not None:
            self._send_body(status, body, headers)
            return
        error_type, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        if message is None:
            message = f"Scripted error from the fake OpenAI server: {self._status_text(status)}"
        error = {"message": message, "type": error_type, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _send_event(self, data: str) -> None:
        self._send_chunk(f"data: {data}\n\n".encode())

    # -- endpoints --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.close_connection = True
        if self._route() == MODELS_PATH:
            model = {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._not_found()

    def do_POST(self) -> None:
        self.close_connection = True
        route = self._route()
        raw = self._read_body()
        if route not in (CHAT_PATH, COMPLETIONS_PATH):
            self._not_found()
            return
        number, fault, payload = self.fake.record(raw, self.headers.get("Authorization"))
        with self._answering():
            self._generate(route == CHAT_PATH, number, fault, payload)

    def _not_found(self) -> None:
        self._send_error_json(
            404, f"Unknown request URL: {self.command} {urlsplit(self.path).path}"
        )

    def _generate(
        self, chat: bool, number: int, fault: Fault, payload: dict[str, Any] | None
    ) -> None:
        if self._fails_before_answer(fault):
            return
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            self._send_error_json(fault.status, body=fault.body, headers=headers)
            return
        if payload is None:
            self._send_error_json(400, "We could not parse the JSON body of your request.")
            return

        reply = self.fake.reply
        model = payload.get("model")
        model = model if isinstance(model, str) and model else self.fake.model
        if chat:
            messages = payload.get("messages")
            contents = (
                [m.get("content") for m in messages if isinstance(m, dict)]
                if isinstance(messages, list)
                else []
            )
            prompt_tokens = count_words(contents)
        else:
            prompt_tokens = count_words(payload.get("prompt"))
        completion_tokens = len(reply.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        base: dict[str, Any] = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-fake{number}",
            "created": int(time.time()),
            "model": model,
        }

        if payload.get("stream") is True:
            options = payload.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(chat, fault, base, reply, usage, include_usage)
            return

        obj = "chat.completion" if chat else "text_completion"
        if fault.kind == "malformed_json":
            self._send_bytes(200, MALFORMED_JSON.encode())
            return
        if fault.kind == "missing_choices":
            self._send_json(200, {**base, "object": obj, "usage": usage})
            return
        if fault.kind == "choices_not_a_list":
            self._send_json(200, {**base, "object": obj, "choices": "none", "usage": usage})
            return
        choice: dict[str, Any]
        if chat:
            message = {"role": "assistant", "content": reply, "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        else:
            choice = {"text": reply, "index": 0, "logprobs": None, "finish_reason": "stop"}
        completion = {**base, "object": obj, "choices": [choice], "usage": usage}
        if fault.kind == "close_mid_stream":
            self._send_half_json(completion)
            return
        self._send_json(200, completion)

    def _stream(
        self,
        chat: bool,
        fault: Fault,
        base: dict[str, Any],
        reply: str,
        usage: dict[str, int],
        include_usage: bool,
    ) -> None:
        obj = "chat.completion.chunk" if chat else "text_completion"
        extra: dict[str, Any] = {"usage": None} if include_usage else {}

        def chunk(choices: list[dict[str, Any]]) -> str:
            return json.dumps({**base, "object": obj, "choices": choices, **extra})

        def choice(text: str, finish_reason: str | None, *, role: bool = False) -> dict[str, Any]:
            if chat:
                delta: dict[str, Any] = {}
                if role:
                    delta["role"] = "assistant"
                if text or role:
                    delta["content"] = text
                return {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}

        head = [chunk([choice("", None, role=True)])] if chat else []
        words = [chunk([choice(piece, None)]) for piece in split_reply(reply)]
        tail = [chunk([choice("", "stop")])]
        if include_usage:
            tail.append(json.dumps({**base, "object": obj, "choices": [], "usage": usage}))

        self._start_stream()
        if fault.kind == "malformed_json":
            self._send_event(MALFORMED_JSON)
        elif fault.kind == "missing_choices":
            self._send_event(json.dumps({**base, "object": obj, "usage": usage}))
        elif fault.kind == "choices_not_a_list":
            self._send_event(json.dumps({**base, "object": obj, "choices": "none"}))
        elif fault.kind == "close_mid_stream":
            for event in [*head, *words[:2]]:
                self._send_event(event)
            self._abort()
            return
        else:
            for event in [*head, *words, *tail]:
                self._send_event(event)
        self._send_event("[DONE]")
        self._end_stream()


class FakeOpenAIServer(LoopbackServer[Fault]):
    """An OpenAI-compatible HTTP server on 127.0.0.1 with scripted faults.

    Use it as a context manager; ``base_url`` (``http://127.0.0.1:<port>/v1``) is what an
    OpenAI client takes as its base URL. ``reply`` and ``model`` may be changed at any time.
    Faults (see :meth:`script`), ``calls``, ``requests`` and ``in_flight`` concern the
    generation endpoints.
    """

    label = "OpenAI"
    handler = _Handler
    fault_type = Fault
    base_path = "/v1"

    #: JSON bodies received at generation endpoints, each with the Authorization header
    #: under ``"_authorization"`` (a body that is not a JSON object is kept as ``"_raw"``).
    requests: list[dict[str, Any]]

    def __init__(
        self, reply: str = "Hello from the fake server.", model: str = "fake-model"
    ) -> None:
        super().__init__()
        self.reply: str = reply
        self.model: str = model

    def record(  # type: ignore[override]
        self, raw: bytes, authorization: str | None
    ) -> tuple[int, Fault, dict[str, Any] | None]:
        """Count one generation request; return its number, its fault and its JSON body."""
        return super().record(raw, _authorization=authorization)
