"""The composition root: the one place an engine is put together.

Every entry point (the CLI, later the LSP server and the bots, tests and benchmarks) calls
:func:`build_engine` with its settings. It builds the :class:`Engine`, registers the commands
of the features it is given, then lets each feature set up what depends on that engine's
settings (the project's own commands, the plugins it finds). Collaborators a caller owns
(a warm embedding model, a model pool, an event bus) are passed in here, never written into
an engine afterwards, so a test builds exactly the engine it means to test.

Nothing is opened or loaded here: the database, the models and the plugins' processes start
on first use, so building an engine stays cheap for a one-shot CLI call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from logomesh.approvals.feature import FEATURE as APPROVALS
from logomesh.audit.feature import FEATURE as AUDIT
from logomesh.builtin.feature import FEATURE as BUILTIN
from logomesh.code.feature import FEATURE as CODE
from logomesh.devshell.feature import FEATURE as DEVSHELL
from logomesh.engine import Engine
from logomesh.errors import CommandError
from logomesh.llm.feature import FEATURE as LLM
from logomesh.nl.feature import FEATURE as NL
from logomesh.pipelines.feature import FEATURE as PIPELINES
from logomesh.plugins.feature import FEATURE as PLUGINS
from logomesh.workers.feature import FEATURE as WORKERS

if TYPE_CHECKING:
    from logomesh.commands.feature import Feature
    from logomesh.commands.registry import CommandRegistry
    from logomesh.config import Settings
    from logomesh.events import EventBus
    from logomesh.llm.pool import ModelPool
    from logomesh.nl.embedder import Embedder

# Every feature LogoMesh ships, in the order their per-engine setup runs: plugins after the
# built-in features, so a plugin's command that clashes with any other command is the one
# refused; pipelines last, since their steps may use any command, plugins' too.
FEATURES: tuple[Feature, ...] = (
    BUILTIN, AUDIT, APPROVALS, DEVSHELL, NL, LLM, CODE, WORKERS, PLUGINS, PIPELINES,
)  # fmt: skip


def build_engine(
    settings: Settings,
    *,
    features: Iterable[Feature] = FEATURES,
    provenance: dict[str, str] | None = None,
    registry: CommandRegistry | None = None,
    events: EventBus | None = None,
    auto_migrate: bool | None = None,
    models: ModelPool | None = None,
    embedder: Embedder | None = None,
) -> Engine:
    """An engine with ``features``' commands; what is passed in stays the caller's to close.

    A command already in a passed-in ``registry`` keeps its spec (a test's own command
    stands in for a feature's of the same name); two features declaring one name is an error.
    """
    chosen = tuple(features)
    engine = Engine(
        settings,
        registry=registry,
        events=events,
        auto_migrate=auto_migrate,
        provenance=provenance,
        models=models,
        embedder=embedder,
    )
    try:
        _register_commands(engine.registry, chosen)
        for feature in chosen:
            if feature.install is not None:
                feature.install(engine)
    except BaseException:
        engine.close()
        raise
    return engine


def _register_commands(registry: CommandRegistry, features: tuple[Feature, ...]) -> None:
    preset = {spec.name for spec in registry}
    owner: dict[str, str] = {}
    for feature in features:
        for spec in feature.commands:
            if spec.name in preset:
                continue
            if spec.name in owner:
                raise CommandError(
                    f"Features {owner[spec.name]!r} and {feature.name!r} both declare the "
                    f"command {spec.name!r}; rename one of them."
                )
            owner[spec.name] = feature.name
            registry.register(spec)
