"""A malformed response is the server's fault; a LogoMesh bug is not (issue 10, item 15).

Every request goes through the real ``openai-compatible`` provider (llama-index's
``OpenAILike``, the openai SDK, httpx) to the loopback fake of ``tests/llm/fake_openai.py``.
A response whose shape is wrong must come out as ``MalformedResponseError`` naming the field;
an exception raised by LogoMesh's own code while it reads a well-formed response must come
out as itself, so that a bug is seen as a bug and not blamed on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from logomesh.engine import Engine
from logomesh.errors import LogoMeshError, MalformedResponseError
from logomesh.llm import translate as translate_module
from logomesh.llm.models import Caller, Completion, Message
from logomesh.llm.providers import wrapped
from tests.llm.fake_openai import FakeOpenAIServer, Fault

STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "not-streamed"])


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="A well-formed answer.") as srv:
        yield srv


def remote(server: FakeOpenAIServer, streaming: bool) -> dict[str, Any]:
    return {
        "name": "remote",
        "provider": "openai-compatible",
        "options": {"base_url": server.base_url, "model": "fake-model"},
        "context_window": 4096,
        "capabilities": ["chat", "streaming"] if streaming else ["chat"],
    }


def chat(engine: Engine, caller: Caller) -> Completion:
    return asyncio.run(engine.llm.chat([Message("user", "Say hello.")], caller, model="remote"))


@STREAMING
@pytest.mark.parametrize(
    ("kind", "said"),
    [("missing_choices", "has no `choices`"), ("choices_not_a_list", "`choices` is a str")],
)
def test_a_response_of_the_wrong_shape_is_malformed_and_names_the_field(
    llm_engine: Callable[..., Engine],
    caller: Caller,
    server: FakeOpenAIServer,
    streaming: bool,
    kind: Any,
    said: str,
) -> None:
    server.script(Fault(kind))
    engine = llm_engine(models=[remote(server, streaming)], retry={"attempts": 1})

    with pytest.raises(MalformedResponseError) as raised:
        chat(engine, caller)

    assert said in raised.value.user_message
    assert "remote" in raised.value.user_message


@STREAMING
def test_a_logomesh_bug_reading_a_good_response_is_not_blamed_on_the_server(
    llm_engine: Callable[..., Engine],
    caller: Caller,
    server: FakeOpenAIServer,
    streaming: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The response is well-formed; LogoMesh's own reading of it fails (a planted bug)."""

    def buggy_tokens_of(response: Any) -> tuple[int | None, int | None]:
        raise TypeError("planted bug in LogoMesh's own code")

    monkeypatch.setattr(wrapped, "_tokens_of", buggy_tokens_of)
    engine = llm_engine(models=[remote(server, streaming)], retry={"attempts": 1})

    with pytest.raises(TypeError, match="planted bug") as raised:
        chat(engine, caller)

    assert not isinstance(raised.value, LogoMeshError)
    assert server.calls == 1  # the server did answer, and was not asked again


@pytest.mark.parametrize("error", [TypeError("x"), KeyError("x"), AttributeError("x")])
def test_translate_leaves_programming_errors_alone(error: Exception) -> None:
    assert translate_module.translate(error, "remote") is None
