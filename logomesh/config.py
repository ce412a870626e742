"""Settings, built once at the edge and passed in.

Layers, lowest first: built-in defaults < the operational mode's preset < the user's
``~/.config/logomesh/config.toml`` < the workspace's ``logomesh.toml`` < ``LOGOMESH_*``
environment variables < command-line flags. :func:`load_settings` keeps where every value
came from, so ``logomesh config show`` can say it, and so a bad value's error can name the
file and line (or variable, or flag) that set it.

The workspace's file is the one layer a stranger may have written (a cloned repository), so
it is read with two limits (docs/trust.md): it may not set security keys (``security.*``,
``audit.key_path``, ``audit.checkpoint_path``, ``audit.trusted_public_keys``), and the code it
declares (``[[devshell.commands]]``, ``[[plugins.mcp]]``, ``plugins.paths``, and its
``plugins/`` folder) is left out until the user trusts the workspace
(:mod:`logomesh.workspace_gate`, :mod:`logomesh.trust`). Layers and their provenance live
in :mod:`logomesh.config_sources`.

A feature's section is its own model, kept with the feature (``devshell/settings.py``,
``nl/settings.py``, ``llm/settings.py``, ``plugins/settings.py``); this module composes them
with the engine-wide ones. No feature imports this module at run time, so the features'
sections can be imported here without a circle.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from logomesh.bot_settings import BotSettings
from logomesh.commands.values import Mode, RiskLevel
from logomesh.config_sources import (
    ENV_PREFIX,
    Layer,
    config_error,
    deep_merge,
    describe_origin,
    dotted_keys,
)
from logomesh.devshell.settings import DevShellSettings
from logomesh.errors import ConfigError
from logomesh.layout import STATE_DIR, WORKSPACE_FILE
from logomesh.llm.settings import LLMSettings
from logomesh.nl.settings import NLSettings
from logomesh.plugins.settings import MANIFEST_FILE, PLUGINS_FOLDER, PluginSettings
from logomesh.toml_errors import explain_toml_error
from logomesh.trust import (
    TRUST_FILE,
    TrustState,
    TrustSubject,
    untrusted_notice,
    workspace_trust_subject,
)
from logomesh.workers.settings import WorkerSettings
from logomesh.workspace_gate import (
    gate_by_trust,
    keep_the_users_mode,
    refuse_reserved_keys,
    trust_state,
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset means SQLite in the workspace."
    )
    busy_timeout_ms: int = Field(default=5000, ge=0)
    auto_migrate: bool = True
    keep_backups: int = Field(default=10, ge=1)


class AuditSettings(_Section):
    checkpoint_every: int = Field(
        default=1000, ge=0, description="Sign the chain head every N records (0: only on demand)."
    )
    checkpoint_interval_s: float = Field(
        default=3600,
        ge=0,
        description="Also sign the head when the newest checkpoint is older than this and "
        "records were added since (0: off).",
    )
    key_path: Path | None = Field(
        default=None, description="Ed25519 signing key, kept outside the database."
    )
    checkpoint_path: Path | None = None
    trusted_public_keys: tuple[str, ...] = Field(
        default=(), description="Hex Ed25519 public keys whose checkpoints verify accepts."
    )
    writer_queue: int = Field(
        default=10_000, ge=1, description="Records waiting for the writer before they spool."
    )
    writer_batch: int = Field(default=500, ge=1, description="Most records in one commit.")
    durable_from: RiskLevel = Field(
        default=RiskLevel.DANGER,
        description=(
            "Commands at or above this risk run only once their 'started' record is durable "
            "(committed, or fsynced to the spool); team mode sets write."
        ),
    )


class IdentityMapping(_Section):
    """One person and the ids each adapter knows them by."""

    name: str
    roles: tuple[str, ...] = ()
    cli: tuple[str, ...] = ()
    slack: tuple[str, ...] = ()
    discord: tuple[str, ...] = ()


class RoleGrant(_Section):
    """Roles for everyone a platform puts in a group: the members of a Discord guild role
    (Server Settings -> Roles -> Copy Role ID; a guild's own id is its @everyone role)."""

    discord_role: str = Field(
        pattern=r"^[0-9]{15,22}$", description="The Discord role's id (a snowflake)."
    )
    roles: tuple[str, ...] = Field(min_length=1, description="The LogoMesh roles it gives.")


DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "owner": ("*",),
    "admin": ("*",),
    "developer": (
        "engine.read",
        "audit.read",
        "audit.verify",
        "db.read",
        "devshell.*",
        "pipeline.*",
        "llm.*",
        "plugin.*",
        "approvals.read",
        "approvals.decide",
    ),
    "viewer": ("engine.read", "audit.read", "db.read", "approvals.read"),
}


class SecuritySettings(_Section):
    roles: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_ROLES))
    identities: tuple[IdentityMapping, ...] = ()
    role_grants: tuple[RoleGrant, ...] = Field(
        default=(),
        description="Roles for members of a chat platform's group (a Discord guild role), "
        "added to those of their own identity.",
    )
    require_roles: bool = Field(
        default=False,
        description="When false (local mode) the workspace owner may run every command.",
    )
    owner: str | None = Field(default=None, description="OS user treated as owner in local mode.")
    max_risk: RiskLevel = RiskLevel.DANGER
    confirm_from: RiskLevel = Field(
        default=RiskLevel.DANGER, description="Commands at or above this risk ask first."
    )
    two_person: tuple[RiskLevel, ...] = Field(
        default=(),
        description="Risks whose commands need an approver other than the requester.",
    )
    approval_timeout_s: float = Field(
        default=900.0,
        gt=0,
        le=7 * 86_400,
        description="How long an approval ticket waits for a decision before it expires.",
    )
    trust_store: Path | None = Field(
        default=None, description="Workspace trust decisions (default: the user config dir)."
    )


class CommandSettings(_Section):
    default_timeout_s: float = Field(default=120.0, gt=0)


class PipelineSettings(_Section):
    """``[pipelines]``: where pipeline files are, and how runs go (docs/pipelines.md)."""

    paths: tuple[Path, ...] = Field(
        default=(Path("pipelines"),),
        description="Folders of pipeline files (*.yaml, *.yml, *.json), relative to the workspace.",
    )
    max_parallel: int = Field(default=8, ge=1, le=1024, description="Steps running at once.")
    max_items: int = Field(
        default=10_000, ge=1, description="The most items one step's `for_each` may run."
    )
    run_timeout_s: float = Field(
        default=6 * 3600.0, gt=0, description="The longest a whole run may take."
    )
    cancel_poll_s: float = Field(
        default=0.1,
        gt=0,
        le=3600,
        description="How often a run checks for `pipeline cancel` (on PostgreSQL a cancel "
        "wakes the run at once; it re-checks every this or 5 s, whichever is longer).",
    )
    executor: Literal["local", "distributed"] = Field(
        default="local",
        description="Where steps run when the pipeline or step does not say: in the run's "
        "process, or as jobs for `logomesh worker` (team mode's PostgreSQL).",
    )


class Settings(BaseSettings):
    """The effective configuration of one LogoMesh engine."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    mode: Mode = Mode.LOCAL
    workspace: Path = Field(default_factory=Path.cwd)
    workspace_trusted: bool = Field(
        default=False,
        description="The workspace's own plugins and commands may run (`logomesh trust`).",
    )
    workspace_restricted: bool = Field(
        default=False,
        description="The adapter declared the workspace untrusted (an editor's Restricted "
        "Mode): built-in commands that run the workspace's own code are refused too.",
    )
    database: DatabaseSettings = DatabaseSettings()
    audit: AuditSettings = AuditSettings()
    security: SecuritySettings = SecuritySettings()
    commands: CommandSettings = CommandSettings()
    pipelines: PipelineSettings = PipelineSettings()
    bots: BotSettings = BotSettings()
    llm: LLMSettings = LLMSettings()
    nl: NLSettings = NLSettings()
    devshell: DevShellSettings = DevShellSettings()
    plugins: PluginSettings = PluginSettings()
    workers: WorkerSettings = WorkerSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges every layer itself (to keep provenance); only init counts here.
        return (init_settings,)

    @property
    def state_dir(self) -> Path:
        return self.workspace / STATE_DIR

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_dir / 'logomesh.db'}"

    @property
    def owner(self) -> str:
        return self.security.owner or getpass.getuser()

    @property
    def audit_key_path(self) -> Path:
        # load_settings fills this from the user's config dir; the fallback serves direct use.
        return self.audit.key_path or self.state_dir / "keys" / "audit-signing.key"

    @property
    def checkpoint_path(self) -> Path:
        return self.audit.checkpoint_path or self.state_dir / "audit-checkpoints.jsonl"

    def trust_subject(self) -> TrustSubject:
        """What trusting this workspace would cover now (its file and plugin manifests)."""
        return trust_subject(self.workspace)

    @property
    def trust_store_path(self) -> Path:
        # load_settings fills this from the user's config dir; never inside the workspace.
        return self.security.trust_store or Path.home() / ".config" / "logomesh" / TRUST_FILE

    @property
    def backup_dir(self) -> Path:
        return self.state_dir / "backups"

    @property
    def risk_limit(self) -> RiskLevel:
        """The highest risk any command may have; readonly mode pins it to read."""
        return RiskLevel.READ if self.mode is Mode.READONLY else self.security.max_risk


MODE_PRESETS: dict[Mode, dict[str, Any]] = {
    Mode.LOCAL: {},
    Mode.TEAM: {
        "security": {"require_roles": True, "two_person": ["danger"]},
        "audit": {"durable_from": "write"},
        "bots": {"enabled": True},
    },
    Mode.READONLY: {"security": {"max_risk": "read"}},
    Mode.OFFLINE: {"llm": {"allow_network": False}},
}


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    provenance: dict[str, str]
    files: tuple[Path, ...]
    trust: TrustState
    # Things a person should be told once (an untrusted workspace); adapters show them.
    notices: tuple[str, ...] = ()


def load_settings(
    workspace: Path | None = None,
    flags: dict[str, Any] | None = None,
    *,
    environ: dict[str, str] | None = None,
    config_file: Path | None = None,
    trusted: bool | None = None,
) -> LoadedSettings:
    """Build the effective settings from every layer; raise ConfigError naming the culprit.

    ``flags`` holds command-line overrides as nested dicts with dotted origin names kept
    by the caller (``{"mode": "readonly"}``); ``environ`` defaults to ``os.environ``.
    ``trusted`` is an adapter's own trust decision (an editor's Workspace Trust); None asks
    the user's trust store. Untrusted, the workspace's plugins and declared commands are
    left out and ``notices`` says how to trust it.
    """
    env = dict(os.environ if environ is None else environ)
    flags = flags or {}
    ws = _resolve_workspace(workspace, env)
    layers = _file_layers(ws, env, config_file)
    layers.append(_env_layer(env))
    layers.append(Layer("flag", flags))
    refuse_reserved_keys(layers, _user_config_dir(env) / "config.toml")
    default_store = _user_config_dir(env) / TRUST_FILE
    trust = trust_state(trust_subject(ws), layers, trusted, default_store)
    layers, withheld = gate_by_trust(layers, trust)
    layers, mode_notices = keep_the_users_mode(layers)

    mode = _select_mode(layers)
    merged: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for layer in [Layer(f"mode:{mode}", MODE_PRESETS[mode]), *layers]:
        deep_merge(merged, layer.values)
        for key in dotted_keys(layer.values):
            provenance[key] = describe_origin(layer, key)
    merged["workspace"] = ws
    merged["workspace_trusted"] = trust.trusted
    # Only an adapter's explicit "no" restricts: the trust store's default (never trusted)
    # leaves the built-in commands as they are, as the CLI always had them.
    merged["workspace_restricted"] = trusted is False
    provenance["workspace_trusted"] = f"{trust.reason} ({trust.store})"
    merged.setdefault("audit", {}).setdefault("key_path", _user_config_dir(env) / "audit.key")
    merged.setdefault("security", {}).setdefault("trust_store", trust.store)
    merged.setdefault("nl", {}).setdefault("model_cache_dir", user_cache_dir(env) / "models")
    provenance.setdefault("workspace", "default (discovered)")
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise config_error(exc, layers) from exc
    _check_mode_requirements(settings, provenance)
    files = tuple(layer.path for layer in layers if layer.path is not None)
    notices = ((untrusted_notice(trust, withheld),) if withheld else ()) + tuple(mode_notices)
    return LoadedSettings(settings, provenance, files, trust, notices)


def _user_config_dir(env: dict[str, str]) -> Path:
    """Per-user config: outside every workspace, so a workspace's writers cannot reach it."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "logomesh"


def user_cache_dir(env: dict[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "logomesh"


def _resolve_workspace(workspace: Path | None, env: dict[str, str]) -> Path:
    if workspace is not None:
        return workspace.expanduser().resolve()
    if env.get(f"{ENV_PREFIX}WORKSPACE"):
        return Path(env[f"{ENV_PREFIX}WORKSPACE"]).expanduser().resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / WORKSPACE_FILE).is_file() or (candidate / STATE_DIR).is_dir():
            return candidate
    return here


def _file_layers(ws: Path, env: dict[str, str], explicit: Path | None) -> list[Layer]:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"Config file {explicit} does not exist. Check the --config path.")
        return [_read_toml(explicit)]
    layers = []
    if (user_file := _user_config_dir(env) / "config.toml").is_file():
        layers.append(_read_toml(user_file))
    if (ws_file := ws / WORKSPACE_FILE).is_file():
        layers.append(_read_toml(ws_file, from_workspace=True))
    return layers


def _read_toml(path: Path, *, from_workspace: bool = False) -> Layer:
    try:
        source = path.read_text(encoding="utf-8")
        values = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(explain_toml_error(path, source, exc), code="config.parse") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}).", code="config.parse") from exc
    values.pop("workspace", None)
    return Layer(f"file:{path}", values, path=path, from_workspace=from_workspace)


def _env_layer(env: dict[str, str]) -> Layer:
    source = EnvSettingsSource(
        Settings, env_prefix=ENV_PREFIX, env_nested_delimiter="__", case_sensitive=False
    )
    # EnvSettingsSource reads os.environ; give it the environment we were handed instead.
    source.env_vars = {k.lower(): v for k, v in env.items()}
    try:
        values = source()
    except Exception as exc:
        raise ConfigError(f"A {ENV_PREFIX}* environment variable is malformed: {exc}") from exc
    values.pop("workspace", None)
    names = {key: f"{ENV_PREFIX}{key.replace('.', '__').upper()}" for key in dotted_keys(values)}
    return Layer("env", values, env_names=names)


def _select_mode(layers: list[Layer]) -> Mode:
    chosen: Any = Mode.LOCAL
    origin = "default"
    for layer in layers:
        if "mode" in layer.values:
            chosen, origin = layer.values["mode"], describe_origin(layer, "mode")
    try:
        return Mode(chosen)
    except ValueError:
        allowed = ", ".join(m.value for m in Mode)
        raise ConfigError(
            f"{origin}: `mode` is {chosen!r}; expected one of {allowed}.", code="config.invalid"
        ) from None


def _check_mode_requirements(settings: Settings, provenance: dict[str, str]) -> None:
    if settings.mode is Mode.TEAM and settings.database.url is None:
        raise ConfigError(
            f"Team mode ({provenance.get('mode', 'default')}) needs a shared database: set "
            "`database.url` in logomesh.toml or LOGOMESH_DATABASE__URL "
            "(for example postgresql+psycopg://host/logomesh)."
        )


def trust_subject(workspace: Path) -> TrustSubject:
    """What trusting ``workspace`` covers: its logomesh.toml and plugin manifests, hashed."""
    ws = workspace.resolve()
    return workspace_trust_subject(ws, ws / WORKSPACE_FILE, ws / PLUGINS_FOLDER, MANIFEST_FILE)
