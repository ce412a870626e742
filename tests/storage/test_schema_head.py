"""The fast start-up schema check must agree with Alembic's idea of the head."""

from __future__ import annotations

from pathlib import Path

from logomesh.engine import Engine
from logomesh.storage import schema
from logomesh.storage.migrate import Migrator


def test_head_revision_constant_matches_alembic(engine: Engine, tmp_path: Path) -> None:
    """Adding a migration without updating HEAD_REVISION fails here, not in production."""
    assert Migrator(engine.database, tmp_path / "backups").head() == schema.HEAD_REVISION


def test_engine_start_migrates_a_fresh_database_once(engine: Engine) -> None:
    """A new workspace gets the current schema on first use, and it is then current."""
    assert schema.current_revision(engine.database) is None
    engine.ensure_schema()
    assert schema.is_current(engine.database)
