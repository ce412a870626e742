"""The ``[nl]`` section of the configuration: when a free-text request becomes a proposal.

It lives with the feature it configures; ``config`` imports it to build ``Settings``, and
nothing here imports ``config`` back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NLSettings(_Section):
    """Natural-language commands."""

    threshold: float = Field(
        default=0.45, ge=0, le=1, description="Below this confidence nothing is proposed."
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where the compiled copy of the embedding model is kept."
    )
