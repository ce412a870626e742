"""Where a workspace's pipeline files are: every ``*.yaml``, ``*.yml`` and ``*.json`` in the
folders ``pipelines.paths`` names. Reading nothing else, so an engine whose workspace has
none pays for no pipeline machinery (YAML, the models, the executor) at all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logomesh.config import Settings

SUFFIXES = (".yaml", ".yml", ".json")


def pipeline_folders(settings: Settings) -> list[Path]:
    return [settings.workspace / path for path in settings.pipelines.paths]


def pipeline_files(folders: list[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found.extend(sorted(p for p in folder.iterdir()
                                if p.suffix in SUFFIXES and p.is_file()))  # fmt: skip
    return found
