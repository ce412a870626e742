"""The ``[plugins]`` section of the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Where plugins are declared; configuration needs the names to know what trust covers.
MANIFEST_FILE = "logomesh-plugin.toml"
PLUGINS_FOLDER = "plugins"


class PluginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    paths: tuple[Path, ...] = Field(
        default=(), description="More folders of plugins, besides the workspace's plugins/."
    )
    entry_points: bool = Field(
        default=True, description="Also load plugins installed as Python packages."
    )
    disabled: tuple[str, ...] = Field(default=(), description="Plugins not to start.")
    mcp: tuple[dict[str, Any], ...] = Field(
        default=(),
        description="MCP servers mounted as plugins: manifest keys, with `command` an argv.",
    )
    watch: bool = Field(
        default=True, description="Long-lived adapters reload plugins when their files change."
    )
    stats_interval_s: float = Field(
        default=10.0, ge=0, description="PluginStatsSampled events this often (0: never)."
    )
    start_timeout_s: float = Field(default=10.0, gt=0)
    stop_grace_s: float = Field(default=2.0, ge=0)
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_restarts: int = Field(default=3, ge=0, description="Crashes before it is disabled.")
    restart_backoff_s: float = Field(default=0.5, ge=0)
