"""Free text -> a proposal: which registered command, with which arguments, how sure.

Every command declares a summary and natural-language examples. They are embedded once
(all-MiniLM-L6-v2, the offline model) into one matrix; a request is embedded and compared
with every example, and a command scores the best similarity of any of its phrasings. Below
the threshold nothing is proposed: the closest commands come back as "did you mean"
alternatives. Arguments come from :mod:`logomesh.nl.extraction`, offered to the command's
own argument model by field name and kept only if that model accepts them.

A proposal is only ever a proposal: :mod:`logomesh.nl.flow` sends it through the same
validation, authorisation and confirmation as a typed command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from logomesh.commands.models import CommandSpec
from logomesh.commands.registry import CommandRegistry
from logomesh.commands.values import RiskLevel
from logomesh.errors import LogoMeshError
from logomesh.nl.embedder import import_numpy_first
from logomesh.nl.extraction import Extracted, extract
from logomesh.nl.normalise import Vocabulary, name_bonus, with_placeholders

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from logomesh.nl.embedder import Embedder

DEFAULT_THRESHOLD = 0.45
_ALTERNATIVES = 3
# Phrasings embedded per call: small enough that a stopped warm-up ends within ~1 s.
_WARM_UP_BATCH = 32


@dataclass(frozen=True)
class Alternative:
    command: str
    confidence: float


@dataclass(frozen=True)
class Proposal:
    """What the interpreter thinks a request means. ``command`` is None for no match."""

    text: str
    command: str | None
    arguments: dict[str, Any]
    confidence: float
    alternatives: tuple[Alternative, ...]
    risk: RiskLevel | None = None
    missing: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "command": self.command,
            "arguments": self.arguments,
            "confidence": round(self.confidence, 4),
            "alternatives": [
                {"command": a.command, "confidence": round(a.confidence, 4)}
                for a in self.alternatives
            ],
            "risk": str(self.risk) if self.risk else None,
            "missing": list(self.missing),
            "reason": self.reason,
        }


@dataclass
class _Index:
    """The embedded phrasings of every command, rebuilt when the registry changes."""

    names: list[str]
    owners: list[int]  # phrase row -> index into names
    matrix: npt.NDArray[np.float32]
    vocabulary: Vocabulary
    key: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)


class Interpreter:
    def __init__(
        self,
        registry: CommandRegistry,
        embedder: Embedder,
        workspace: Path,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        cache_dir: Path | None = None,
    ) -> None:
        self.registry = registry
        self.embedder = embedder
        self.workspace = workspace
        self.threshold = threshold
        self.cache_dir = cache_dir
        self._index: _Index | None = None
        self._lock = threading.Lock()
        # The background warm-up checks this between batches, so close() can join it.
        self._stop_warming = threading.Event()
        self._warming: threading.Thread | None = None

    def interpret(self, text: str) -> Proposal:
        cleaned = " ".join(text.split())
        if not re.search(r"[A-Za-z]{2,}", cleaned):
            return Proposal(text, None, {}, 0.0, (), reason="There is no request to interpret.")
        found = extract(cleaned, self.workspace)
        ranked = self._rank(with_placeholders(cleaned, found))
        best_name, best_score = ranked[0]
        alternatives = tuple(Alternative(n, s) for n, s in ranked[1 : 1 + _ALTERNATIVES])
        if best_score < self.threshold:
            close = ", ".join(name for name, _ in ranked[:_ALTERNATIVES])
            return Proposal(
                text,
                None,
                {},
                best_score,
                tuple(Alternative(n, s) for n, s in ranked[:_ALTERNATIVES]),
                reason=f"No command matches confidently. Did you mean one of: {close}?",
            )
        spec = self.registry.get(best_name)
        arguments, missing = fill_arguments(spec, found, cleaned)
        reason = f"Closest phrasing of {spec.name}: {spec.summary}."
        if missing:
            reason += f" It still needs: {', '.join(missing)}."
        return Proposal(
            text, spec.name, arguments, best_score, alternatives, spec.risk, missing, reason
        )

    def warm_up(self) -> None:
        """Load the model and embed the command phrasings now rather than on first use."""
        self._current_index()

    def warm_up_in_background(self) -> None:
        """Start :meth:`warm_up` on a daemon thread; errors surface on first real use."""
        if self._warming is not None and self._warming.is_alive():
            return
        self._stop_warming.clear()
        import_numpy_first()
        self._warming = threading.Thread(target=self._warm_quietly, name="nl-warm-up", daemon=True)
        self._warming.start()

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop a background warm-up and wait for it.

        A daemon thread still inside torch when Python finalises aborts the process
        (``terminate called without an active exception``): the warm-up stops after the
        batch it is embedding; a model load in progress cannot be cut short, so it is waited
        for (seconds).
        """
        self._stop_warming.set()
        if self._warming is not None:
            self._warming.join(timeout_s)
            self._warming = None

    def _warm_quietly(self) -> None:
        with contextlib.suppress(LogoMeshError, _WarmUpStopped):
            self._current_index(self._stop_warming)

    def _rank(self, text: str) -> list[tuple[str, float]]:
        import numpy as np

        index = self._current_index()
        text = index.vocabulary.correct(text)
        query = self.embedder.encode([text])[0]
        similarities = index.matrix @ query
        best = np.full(len(index.names), -1.0, dtype=np.float32)
        np.maximum.at(best, np.asarray(index.owners), similarities)
        scores = [
            (name, min(1.0, max(0.0, float(best[i]) + name_bonus(text, name))))
            for i, name in enumerate(index.names)
        ]
        return sorted(scores, key=lambda item: -item[1])

    def _current_index(self, stop: threading.Event | None = None) -> _Index:
        # The interpreter never proposes itself (nl.*): interpreting is not a request.
        key = tuple(
            (spec.name, phrasings(spec))
            for spec in self.registry
            if not spec.name.startswith("nl.")
        )
        with self._lock:
            if self._index is None or self._index.key != key:
                names = [name for name, _ in key]
                owners = [i for i, (_, phrases) in enumerate(key) for _ in phrases]
                texts = [
                    with_placeholders(phrase, extract(phrase))
                    for _, phrases in key
                    for phrase in phrases
                ]
                self._index = _Index(
                    names, owners, self._phrase_vectors(texts, stop), Vocabulary(texts), key
                )
            return self._index

    def _phrase_vectors(
        self, texts: list[str], stop: threading.Event | None = None
    ) -> npt.NDArray[np.float32]:
        """Embeddings of every phrasing, cached on disk: a cold CLI start skips ~1 s.

        The cache file is tagged with the model that made its vectors; one made by another
        model (``Embedder.identity``) is embedded again, never mixed with this model's.
        """
        import numpy as np

        if self.cache_dir is None:
            return self._encode(texts, stop)
        model = self.embedder.identity
        digest = hashlib.sha256(json.dumps(texts).encode("utf-8")).hexdigest()[:24]
        path = self.cache_dir / f"nl-index-{digest}.npz"
        with contextlib.suppress(OSError, ValueError, KeyError), np.load(path) as cached:
            vectors = cached["vectors"]
            if str(cached["model"]) == model and vectors.shape[0] == len(texts):
                return vectors.astype(np.float32, copy=False)  # type: ignore[no-any-return]
        vectors = self._encode(texts, stop)
        with contextlib.suppress(OSError):
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            for old in [
                *self.cache_dir.glob("nl-index-*.npy"),
                *self.cache_dir.glob("nl-index-*.npz"),
            ]:
                old.unlink(missing_ok=True)
            np.savez(path, vectors=vectors, model=np.array(model))
        return vectors

    def _encode(self, texts: list[str], stop: threading.Event | None) -> npt.NDArray[np.float32]:
        """Encode in batches, giving up between two when ``stop`` is set."""
        import numpy as np

        parts = []
        for start in range(0, len(texts), _WARM_UP_BATCH):
            if stop is not None and stop.is_set():
                raise _WarmUpStopped
            parts.append(self.embedder.encode(texts[start : start + _WARM_UP_BATCH]))
        return np.concatenate(parts) if parts else self.embedder.encode([])


class _WarmUpStopped(Exception):
    """The background warm-up was asked to stop (the adapter is leaving)."""


def phrasings(spec: CommandSpec) -> tuple[str, ...]:
    """How people might ask for a command: its examples, its summary, its name in words."""
    spoken_name = spec.name.replace(".", " ").replace("_", " ")
    return (*spec.examples, spec.summary, spoken_name)


def fill_arguments(
    spec: CommandSpec, found: Extracted, text: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Offer extracted values to the command's model; keep what it accepts."""
    fields = spec.args_model.model_fields
    candidates = _candidates(found, text)
    offered = {name: value for name in fields if (value := candidates.get(name))}
    accepted = _accepted(spec, offered)
    missing = tuple(
        name for name, info in fields.items() if info.is_required() and name not in accepted
    )
    return accepted, missing


def _candidates(found: Extracted, text: str) -> dict[str, Any]:
    """A value for every argument name extraction can fill, computed once per request."""
    lowered = text.lower()
    return {
        "path": found.paths[0] if found.paths else None,
        # "since main" asks about what came after main: the commits main..HEAD.
        "ref": f"{found.since_ref}..HEAD" if found.since_ref else next(iter(found.refs), None),
        "branch": found.refs[0] if found.refs else None,
        "count": found.numbers[0] if found.numbers else None,
        "limit": found.numbers[0] if found.numbers else None,
        "max_results": found.numbers[0] if found.numbers else None,
        "pattern": found.search_text,
        "query": found.search_text or text,
        "prompt": found.question,
        "since": found.age,
        "payloads_older_than": found.age,
        "actor": found.actor,
        "start": found.line_range[0] if found.line_range else None,
        "end": found.line_range[1] if found.line_range else None,
        "staged": True if "staged" in found.flags else None,
        "force": True if "force" in found.flags else None,
        "runner": next((f.split(":")[1] for f in found.flags if f.startswith("runner:")), None),
        "format": next((f for f in ("csv", "jsonl") if f in lowered), None),
        "outcome": next(
            (o for word, o in _OUTCOME_WORDS.items() if re.search(rf"\b{word}\b", lowered)), None
        ),
        "source": next(
            (s for s in ("slack", "discord", "lsp", "cli", "pipeline") if s in lowered), None
        ),
    }


_OUTCOME_WORDS = {
    "failed": "error",
    "failures": "error",
    "errors": "error",
    "denied": "denied",
    "refused": "denied",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


def _accepted(spec: CommandSpec, offered: dict[str, Any]) -> dict[str, Any]:
    """The largest part of ``offered`` the argument model validates, field by field."""
    accepted = dict(offered)
    for _ in range(len(offered) + 1):
        try:
            spec.args_model.model_validate(accepted)
            return accepted
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            bad &= set(accepted)
            if not bad:
                return accepted  # only missing required fields remain; reported as missing
            for name in bad:
                accepted.pop(name)
    return accepted
