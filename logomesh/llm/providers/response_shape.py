"""Check the shape of an OpenAI-style answer before the SDK reads it.

The openai SDK builds its response objects without validating them, so a server that sends
``{"choices": null}`` makes llama-index fail with a ``TypeError`` deep in its own code. Such
an error could as well be a bug of LogoMesh's, so ``translate`` no longer calls every
``TypeError`` a malformed response. Instead the fields the SDK and LogoMesh read are checked
here, on the wire: an httpx response hook that the ``openai-compatible`` provider installs
reads each answer of a completion endpoint (or watches each event of a stream) and raises
:class:`MalformedResponseError` naming the field that is missing or of the wrong type.

A compressed event stream is passed on unchecked (its bytes are only decoded inside httpx);
servers do not compress ``text/event-stream`` in practice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from logomesh.errors import MalformedResponseError

_CHAT_PATH = "/chat/completions"
_COMPLETIONS_PATH = "/completions"


def checked_http_client(model: str) -> httpx.Client:
    """An httpx client (with the openai SDK's defaults) whose answers are shape-checked."""
    from openai import DefaultHttpxClient

    return DefaultHttpxClient(event_hooks={"response": [_ResponseCheck(model)]})


class _ResponseCheck:
    """The response hook: check a completion body now, or each event of a stream as it comes."""

    def __init__(self, model: str) -> None:
        self.model = model

    def __call__(self, response: httpx.Response) -> None:
        path = response.request.url.path
        if response.status_code >= 400 or not path.endswith(_COMPLETIONS_PATH):
            return  # errors are the SDK's to report; other endpoints are not read here
        chat = path.endswith(_CHAT_PATH)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            if response.headers.get("content-encoding", "identity") == "identity":
                response.stream = _CheckedEvents(response.stream, self.model, chat)
            return
        response.read()  # httpx keeps the body; the SDK reads the same bytes afterwards
        check_answer(_parse(response.content, self.model), self.model, chat=chat, streamed=False)


class _CheckedEvents(httpx.SyncByteStream):
    """Pass a server-sent event stream on, checking each event before the SDK can parse it."""

    def __init__(self, inner: Any, model: str, chat: bool) -> None:
        self._inner = inner
        self._model = model
        self._chat = chat

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        data: list[bytes] = []
        for piece in self._inner:
            pending += piece
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._line(line.rstrip(b"\r"), data)
            # Every complete line of this piece is checked before the SDK sees it.
            yield piece
        self._line(pending.rstrip(b"\r"), data)
        self._line(b"", data)

    def _line(self, line: bytes, data: list[bytes]) -> None:
        if line.startswith(b"data:"):
            data.append(line[5:].strip())
        elif not line and data:  # a blank line ends an event
            payload = b"\n".join(data)
            data.clear()
            if payload != b"[DONE]":
                answer = _parse(payload, self._model)
                check_answer(answer, self._model, chat=self._chat, streamed=True)

    def close(self) -> None:
        self._inner.close()


def _parse(body: bytes, model: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _malformed(model, f"its body is not JSON ({exc})") from exc


def check_answer(answer: Any, model: str, *, chat: bool, streamed: bool) -> None:
    """Raise :class:`MalformedResponseError` unless ``answer`` has the fields that are read.

    A streamed chunk may have no choice (the last one carries only ``usage``); a whole answer
    needs at least one. A chat choice carries a ``message`` (``delta`` when streamed) whose
    ``content`` is text or null; a legacy completion's choice carries ``text``.
    """
    if not isinstance(answer, dict):
        raise _malformed(model, f"the response is {_kind(answer)}, not a JSON object")
    if "choices" not in answer:
        raise _malformed(model, "the response has no `choices`")
    choices = answer["choices"]
    if not isinstance(choices, list):
        raise _malformed(model, f"`choices` is {_kind(choices)}, not a list")
    if not choices and not streamed:
        raise _malformed(model, "`choices` is empty")
    for number, choice in enumerate(choices):
        _check_choice(choice, f"choices[{number}]", model, chat=chat, streamed=streamed)


def _check_choice(choice: Any, where: str, model: str, *, chat: bool, streamed: bool) -> None:
    if not isinstance(choice, dict):
        raise _malformed(model, f"`{where}` is {_kind(choice)}, not an object")
    if not chat:
        _require(choice, "text", (str,), where, model)
        return
    field = "delta" if streamed else "message"
    message = _require(choice, field, (dict,), where, model)
    if message.get("content") is not None:
        _require(message, "content", (str,), f"{where}.{field}", model)


def _require(
    holder: dict[str, Any], key: str, types: tuple[type, ...], where: str, model: str
) -> Any:
    if key not in holder:
        raise _malformed(model, f"`{where}` has no `{key}`")
    value = holder[key]
    if not isinstance(value, types):
        wanted = " or ".join(t.__name__ for t in types)
        raise _malformed(model, f"`{where}.{key}` is {_kind(value)}, not a {wanted}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def _malformed(model: str, problem: str) -> MalformedResponseError:
    return MalformedResponseError(f"{model} sent a malformed response: {problem}.")
