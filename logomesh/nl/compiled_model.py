"""A TorchScript copy of the sentence-transformers model, so later starts skip its import.

Importing sentence-transformers (and with it transformers and scikit-learn) costs 3-5 s on
this machine; the model itself loads in 0.4 s. The first process that loads the model
through sentence-transformers traces its forward pass (BERT, mean pooling, L2 norm) into a
TorchScript file in the user's cache, and keeps it only if it reproduces
sentence-transformers' own embeddings on a probe set. Every later process loads that file
with ``torch`` and the ``tokenizers`` library alone: about 2 s to the first vector instead
of 5 to 7. The cache key covers the weights file and the torch version, so a new model or
a new torch never meets a stale trace.

torch 2.13 marks TorchScript deprecated in favour of ``torch.export``; it still loads and
runs, and if a later torch drops it, :func:`load` returns None and the embedder simply
takes the sentence-transformers path every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_FORMAT = "logomesh-minilm-torchscript-v1"
_PROBES = (
    "a",
    "run the tests in tests/unit",
    "what changed since main? " * 40,  # longer than the 256-token limit: truncation
    "Wer hat die Datenbank neu gestartet?",
)
_TOLERANCE = 1e-5
# One loaded copy per trace file and process: every engine of a process (an editor's folders,
# the warm process's children after a fork) shares its weights instead of loading them again.
_loaded: dict[tuple[Path, int, int], CompiledEncoder] = {}
_loaded_lock = threading.Lock()


class CompiledEncoder:
    """Tokenizer plus traced model: ``encode(texts)`` like sentence-transformers."""

    def __init__(self, module: Any, tokenizer: Any) -> None:
        self._module = module
        self._tokenizer = tokenizer

    def encode(self, texts: list[str], batch_size: int) -> npt.NDArray[np.float32]:
        import numpy as np
        import torch

        # Sort by length so each batch pads little, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
            with torch.inference_mode():
                out[chunk] = self._module(ids, mask).numpy()
        return out


def cache_file(cache_dir: Path, model_dir: Path) -> Path:
    import torch

    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    key = f"{_FORMAT}|{model_dir}|{stat.st_size}|{stat.st_mtime_ns}|{torch.__version__}"
    return cache_dir / f"minilm-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"


def load(cache_dir: Path, model_dir: Path) -> CompiledEncoder | None:
    """The cached trace, or None when there is none yet (or it cannot be read)."""
    path = cache_file(cache_dir, model_dir)
    try:
        info = path.stat()
    except OSError:
        return None
    key = (path, info.st_size, info.st_mtime_ns)
    with _loaded_lock:
        if key not in _loaded:
            encoder = _load_trace(path, model_dir)
            if encoder is None:
                return None
            _loaded[key] = encoder
        return _loaded[key]


def _load_trace(path: Path, model_dir: Path) -> CompiledEncoder | None:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception:  # unreadable, or a torch without TorchScript: use the slow path
        return None
    module.eval()
    return CompiledEncoder(module, _tokenizer(model_dir))


def export(model: Any, cache_dir: Path, model_dir: Path) -> bool:
    """Trace ``model`` (a SentenceTransformer) to the cache if it reproduces its output."""
    import numpy as np
    import torch

    tokenizer = _tokenizer(model_dir)
    wrapper = _mean_pooled_module(model[0].auto_model.eval())
    encodings = tokenizer.encode_batch(list(_PROBES[:2]))
    example = (
        torch.tensor([e.ids for e in encodings]),
        torch.tensor([e.attention_mask for e in encodings]),
    )
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about shapes, checked below
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            wrapper, example, check_trace=False, strict=False
        )
    candidate = CompiledEncoder(traced, tokenizer)
    expected = model.encode(list(_PROBES), normalize_embeddings=True, show_progress_bar=False)
    if float(np.abs(candidate.encode(list(_PROBES), 2) - expected).max()) > _TOLERANCE:
        return False
    path = cache_file(cache_dir, model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        traced.save(str(partial))
        partial.replace(path)  # atomic: a concurrent reader sees all of it or nothing
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return True


def _tokenizer(model_dir: Path) -> Any:
    from tokenizers import Tokenizer

    config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(int(config.get("max_seq_length", 256)))
    tokenizer.enable_padding()
    return tokenizer


def _mean_pooled_module(bert: Any) -> Any:
    import torch

    class MeanPooled(torch.nn.Module):
        """BERT's token vectors, mean-pooled over the attention mask, L2-normalised."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, return_dict=False
            )[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    return MeanPooled()
