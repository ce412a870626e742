"""Reasoning components behind one small protocol, with a plain baseline on the registry.

Later features (summarising a failing pipeline, triaging a chat message, spotting a
contradiction between a commit message and its diff) ask an :class:`Analyst`, never a model
directly, so a better implementation can replace :class:`BaselineAnalyst` without touching
an adapter. Every model call the baseline makes goes through the registry, so it is retried,
fallen back and audited like any other.

The baseline is deliberately plain, and marked so in every result (``method``):

- ``summarise`` asks the default chat model for a short summary and trims it to length;
- ``classify`` embeds the text and each label and picks the nearest (no generation, so it
  is deterministic and works even with the small local model);
- ``detect_contradiction`` calls two statements contradictory when they are about the same
  thing (embedding similarity) and exactly one of them is negated. It misses antonyms
  ("passed" / "failed") and says ``None`` (unknown) when the topics differ.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from logomesh.errors import InvalidArgumentsError
from logomesh.llm.models import Caller, GenerationParams, Message
from logomesh.llm.service import LLMService
from logomesh.llm.settings import Purpose

BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class Summary:
    text: str
    method: str
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    label: str
    scores: dict[str, float]
    method: str


@dataclass(frozen=True, slots=True)
class ContradictionVerdict:
    """``contradicts`` is None when the component cannot tell."""

    contradicts: bool | None
    confidence: float
    explanation: str
    method: str
    similarity: float | None = field(default=None)


class Analyst(Protocol):
    """What reasoning features may ask; implementations choose how to answer."""

    async def summarise(self, text: str, *, max_words: int = 60) -> Summary: ...

    async def classify(self, text: str, labels: Sequence[str]) -> Classification: ...

    async def detect_contradiction(self, first: str, second: str) -> ContradictionVerdict: ...


_NEGATIONS = re.compile(
    r"\b(not|no|never|none|nothing|neither|nor|cannot|without|isn't|aren't|wasn't|weren't|"
    r"doesn't|don't|didn't|won't|wouldn't|can't|couldn't|shouldn't|hasn't|haven't|hadn't)\b",
    re.IGNORECASE,
)
# Above this cosine similarity two statements are taken to be about the same thing.
_SAME_TOPIC = 0.6


class BaselineAnalyst:
    """The plain implementation of :class:`Analyst` on top of the registry (see module doc)."""

    def __init__(self, llm: LLMService, caller: Caller) -> None:
        self.llm = llm
        self.caller = caller

    async def summarise(self, text: str, *, max_words: int = 60) -> Summary:
        if not text.strip():
            raise InvalidArgumentsError("Nothing to summarise: the text is empty.")
        completion = await self.llm.chat(
            [
                Message("system", f"Summarise the user's text in at most {max_words} words."),
                Message("user", text),
            ],
            self.caller,
            purpose=Purpose.CHAT,
            params=GenerationParams(temperature=0, max_tokens=max(16, max_words * 2)),
        )
        words = completion.text.strip().split()
        return Summary(" ".join(words[:max_words]), f"{BASELINE}:llm", completion.model)

    async def classify(self, text: str, labels: Sequence[str]) -> Classification:
        unique = list(dict.fromkeys(label for label in labels if label.strip()))
        if len(unique) < 2:
            raise InvalidArgumentsError("Classification needs at least two distinct labels.")
        embeddings = await self.llm.embed([text, *unique], self.caller)
        query, *candidates = embeddings.vectors
        scores = {
            label: _cosine(query, vector) for label, vector in zip(unique, candidates, strict=True)
        }
        best = max(scores, key=lambda label: scores[label])
        return Classification(best, scores, f"{BASELINE}:nearest-label")

    async def detect_contradiction(self, first: str, second: str) -> ContradictionVerdict:
        method = f"{BASELINE}:topic-and-negation"
        embeddings = await self.llm.embed(
            [_strip_negations(first), _strip_negations(second)], self.caller
        )
        similarity = _cosine(*embeddings.vectors)
        if similarity < _SAME_TOPIC:
            return ContradictionVerdict(
                None, 0.0, "The statements are about different things.", method, similarity
            )
        negated = (bool(_NEGATIONS.search(first)), bool(_NEGATIONS.search(second)))
        if negated[0] != negated[1]:
            return ContradictionVerdict(
                True, similarity, "Same claim, but exactly one of them is negated.", method,
                similarity,
            )  # fmt: skip
        return ContradictionVerdict(
            False, similarity * 0.5, "Same topic and the same polarity.", method, similarity
        )


def _strip_negations(text: str) -> str:
    """The claim without its negation, so "X" and "not X" embed as the same topic."""
    return re.sub(r"\s+", " ", _NEGATIONS.sub(" ", text)).strip()


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
