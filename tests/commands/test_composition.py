"""The composition root: an engine has exactly the features it is given, each command
declared once, and the collaborators a caller passes in."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logomesh.commands.feature import Feature, collect_commands
from logomesh.commands.registry import CommandRegistry, command
from logomesh.commands.values import RiskLevel
from logomesh.composition import FEATURES, build_engine
from logomesh.config import LoadedSettings, Settings
from logomesh.devshell.feature import FEATURE as DEVSHELL
from logomesh.engine import Engine
from logomesh.errors import CommandError
from logomesh.nl.embedder import Embedder

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_MANIFEST = """
name = "hello"
version = "0.1.0"
runtime = "python"
entry = "main.py"

[[contributes.commands]]
name = "hello.say"
summary = "Say hello"
"""
USER_COMMAND = {"name": "greet.me", "argv": ["echo", "hi"], "summary": "Greet"}


@pytest.fixture
def built(load: Callable[..., LoadedSettings]) -> Iterator[Callable[..., Engine]]:
    """``built(flags, **build_engine keywords)`` -> an engine closed after the test."""
    made: list[Engine] = []

    def _build(flags: dict[str, object] | None = None, **keywords: object) -> Engine:
        loaded = load({"plugins": {"entry_points": False}, **(flags or {})})
        made.append(build_engine(loaded.settings, provenance=loaded.provenance, **keywords))
        return made[-1]

    yield _build
    for engine in made:
        engine.close()


@pytest.fixture
def plugin_in_workspace(workspace: Path) -> None:
    folder = workspace / "plugins" / "hello"
    folder.mkdir(parents=True)
    (folder / "main.py").write_text("raise SystemExit(0)\n")
    (folder / "logomesh-plugin.toml").write_text(PLUGIN_MANIFEST)


def test_every_feature_command_is_registered_once(built: Callable[..., Engine]) -> None:
    engine = built()
    declared = [spec.name for feature in FEATURES for spec in feature.commands]
    assert len(declared) == len(set(declared))
    assert sorted(spec.name for spec in engine.registry) == sorted(declared)
    assert all(feature.commands for feature in FEATURES)
    assert {"status", "audit.verify", "git.status", "nl.interpret", "llm.ask", "plugin.list"} <= {
        spec.name for spec in engine.registry
    }


def _modules_declaring_commands() -> list[str]:
    """Every logomesh module that applies ``@command(...)`` at module level, read from source."""
    found = []
    for path in sorted((ROOT / "logomesh").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            decorators = getattr(node, "decorator_list", [])
            if any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "command"
                for d in decorators
            ):
                parts = path.relative_to(ROOT).with_suffix("").parts
                found.append(".".join(parts))
                break
    return found


def test_a_command_is_registered_by_being_declared() -> None:
    """No list to forget: each module's ``@command`` values belong to some feature."""
    modules = _modules_declaring_commands()
    assert "logomesh.devshell.commands.git" in modules and len(modules) >= 9
    registered = {spec.name for feature in FEATURES for spec in feature.commands}
    for name in modules:
        declared = {spec.name for spec in collect_commands(importlib.import_module(name))}
        assert declared and declared <= registered, f"{name} declares commands no feature has"


def test_collect_commands_reads_loops_and_skips_specs_imported_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose_one.py").write_text(
        textwrap.dedent(
            """
            from logomesh.commands.registry import command
            from logomesh.commands.values import RiskLevel

            @command("one.b", summary="b", permission="p", risk=RiskLevel.READ)
            async def b(ctx): ...

            @command("one.a", summary="a", permission="p", risk=RiskLevel.READ)
            async def a(ctx): ...

            def _declare(name):
                async def handle(ctx): ...
                return command(name, summary=name, permission="p", risk=RiskLevel.READ)(handle)

            LOOPED = tuple(_declare(name) for name in ("one.x", "one.y"))
            """
        )
    )
    (tmp_path / "compose_two.py").write_text("from compose_one import a, LOOPED\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    one, two = importlib.import_module("compose_one"), importlib.import_module("compose_two")
    names = [spec.name for spec in collect_commands(one, two, one)]
    assert names == ["one.b", "one.a", "one.x", "one.y"]  # declaration order, each once
    assert collect_commands(two) == ()


def test_two_features_declaring_one_command_is_an_error(
    built: Callable[..., Engine],
) -> None:
    mine = Feature("mine", commands=DEVSHELL.commands[:1])
    with pytest.raises(CommandError) as caught:
        built(features=(DEVSHELL, mine))
    assert (
        "'devshell' and 'mine' both declare the command 'git.status'" in caught.value.user_message
    )


def test_a_registry_passed_in_keeps_its_own_command(built: Callable[..., Engine]) -> None:
    @command(
        "status", summary="the test's own status", permission="engine.read", risk=RiskLevel.READ
    )
    async def own_status(ctx: object) -> None: ...

    registry = CommandRegistry()
    registry.register(own_status)
    engine = built(registry=registry)
    assert engine.registry is registry
    assert engine.registry.get("status") is own_status
    assert "whoami" in engine.registry


@pytest.mark.usefixtures("plugin_in_workspace")
def test_only_the_features_given_are_installed(built: Callable[..., Engine]) -> None:
    flags = {"devshell": {"commands": [USER_COMMAND]}}
    devshell_only = built(flags, features=(DEVSHELL,))
    names = {spec.name for spec in devshell_only.registry}
    assert names == {spec.name for spec in DEVSHELL.commands} | {"greet.me"}
    assert devshell_only.plugins.plugins == {}  # the plugins feature was not given
    everything = built(flags)
    assert {"greet.me", "hello.say", "status"} <= {spec.name for spec in everything.registry}
    assert list(everything.plugins.plugins) == ["hello"]
    assert len(built(features=()).registry) == 0


def test_the_embedder_passed_in_is_the_one_every_service_uses(
    built: Callable[..., Engine], tmp_path: Path
) -> None:
    embedder = Embedder(cache_dir=tmp_path / "models")
    engine = built(embedder=embedder)
    assert engine.embedder is embedder
    assert engine.interpreter.embedder is embedder
    assert engine.semantic_search.worker.embedder is embedder
    assert not embedder.loaded  # passing it in loads nothing


def test_each_feature_settings_model_is_its_section_of_settings() -> None:
    with_settings = [feature for feature in FEATURES if feature.settings is not None]
    assert {feature.name for feature in with_settings} == {
        "devshell",
        "nl",
        "llm",
        "plugins",
        "workers",
    }
    for feature in with_settings:
        assert Settings.model_fields[feature.name].annotation is feature.settings


def test_building_an_engine_loads_no_model_runtime(
    workspace: Path, test_env: dict[str, str]
) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from logomesh.composition import build_engine\n"
        "from logomesh.config import load_settings\n"
        "loaded = load_settings(Path(sys.argv[1]), environ=json.loads(sys.argv[2]))\n"
        "engine = build_engine(loaded.settings)\n"
        "print(len(engine.registry), [m for m in ('torch', 'sentence_transformers', 'llama_cpp',"
        " 'llama_index') if m in sys.modules])\n"
        "engine.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(workspace), json.dumps(test_env)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    count, heavy = result.stdout.split(" ", 1)
    assert int(count) >= 40
    assert heavy.strip() == "[]"
