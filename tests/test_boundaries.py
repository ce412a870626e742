"""Architecture rules that must not erode: dependencies point inward, start-up stays lazy.

The package rules read the source with ``ast`` (no import runs). A *unit* is a top-level
package or module of ``logomesh`` (``audit``, ``config``, ``engine``...). An import counts at
run time whether it sits at module level or inside a function, since a lazy import still
closes a circle the moment it runs; one under ``if TYPE_CHECKING:`` does not run, and counts
only for the rule that features use each other's public names. The root package itself is
left out: its names resolve lazily (PEP 562) and importing it loads nothing.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTER_SDKS = {
    "pygls",
    "lsprotocol",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "typer",
    "click",
    "rich",
    # The adapters themselves: the engine serves them, never the reverse.
    "lsp_server",
    "bots",
}


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _imported_top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(path)}


def _heavy_modules_after(snippet: str, heavy: tuple[str, ...]) -> list[str]:
    """Which of ``heavy`` a fresh interpreter has imported after running ``snippet``."""
    report = f"print('HEAVY=' + ','.join(m for m in {heavy!r} if m in sys.modules))"
    code = f"{snippet}\nimport sys\n{report}\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    found = result.stdout.splitlines()[-1].removeprefix("HEAVY=")
    return found.split(",") if found else []


def test_engine_imports_no_adapter_sdk() -> None:
    """logomesh/ outside logomesh/cli/ never imports pygls, slack, discord, typer, rich..."""
    offenders = []
    for path in sorted((ROOT / "logomesh").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "logomesh").parts[:1]:
            continue
        bad = _imported_top_levels(path) & ADAPTER_SDKS
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_adapters_reach_the_engine_only_through_its_public_api() -> None:
    """lsp_server/ imports no CLI module: both are adapters over the same engine."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {found}"
        for path in sorted((ROOT / "lsp_server").rglob("*.py"))
        for found in _imported_modules(path)
        if found.startswith("logomesh.cli")
    ]
    assert offenders == []


def test_lsp_initialize_imports_no_engine_dependencies() -> None:
    """The server answers initialize having paid for pygls and lsprotocol only: the
    engine (pydantic, SQLAlchemy, torch...) loads in a thread after the answer."""
    code = (
        "from lsprotocol import types\n"
        "from lsp_server.server import build_server\n"
        "server = build_server()\n"
        "params = types.InitializeParams(capabilities=types.ClientCapabilities())\n"
        "steps = server.protocol.lsp_initialize(params)\n"
        "handler, args, kwargs = next(steps)\n"
        "handler(*args)\n"
        "try:\n    steps.send(None)\nexcept StopIteration as done:\n    result = done.value\n"
        "assert 'logomesh.do' in result.capabilities.execute_command_provider.commands\n"
    )
    heavy = ("sqlalchemy", "pydantic", "alembic", "cryptography", "typer", "torch", "yaml")
    assert _heavy_modules_after(code, heavy) == []


def test_the_boundary_check_catches_a_violation(tmp_path: Path) -> None:
    """The walker really sees both import forms (so the rule above cannot pass vacuously)."""
    sample = tmp_path / "sample.py"
    sample.write_text("import rich.console\nfrom slack_bolt import App\nfrom . import x\n")
    assert _imported_top_levels(sample) & ADAPTER_SDKS == {"rich", "slack_bolt"}


def test_cli_help_imports_no_engine_dependencies() -> None:
    """`logomesh --help` must not pay for SQLAlchemy, pydantic, alembic or cryptography."""
    code = (
        "from logomesh.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    heavy = ("sqlalchemy", "pydantic", "alembic", "cryptography", "rich")
    assert _heavy_modules_after(code, heavy) == []


# Inner layers first; a unit may import, at run time, only units of its own layer or inner
# ones. A new package must be given a layer here: that is the point of the list.
LAYERS: tuple[frozenset[str], ...] = (
    # The core: request/result models, registry, shared values, errors, events.
    frozenset(
        {"commands", "errors", "events", "canonical", "layout", "lazy", "plural", "toml_errors"}
    ),
    frozenset({"storage", "security", "trust"}),  # services every feature may use
    # features
    frozenset(
        {"approvals", "audit", "builtin", "code", "devshell", "llm", "nl", "plugins", "workers"}
    ),
    # the features' settings, and the adapters' sections of them
    frozenset({"config", "config_sources", "workspace_gate", "bot_settings"}),
    frozenset({"pipelines"}),  # workflows over every feature's commands, before the engine
    frozenset({"engine", "attempt", "deadline"}),
    frozenset({"composition"}),
    frozenset({"cli", "__main__"}),  # the adapter
)
CORE, FEATURES = LAYERS[0], LAYERS[2]


@dataclass(frozen=True, slots=True)
class Import:
    path: Path
    line: int
    source: str  # the importing unit
    module: str  # the module named after ``from`` (or after ``import``)
    names: tuple[str, ...]  # the names imported from it (empty for ``import x``)
    runtime: bool  # False under ``if TYPE_CHECKING:``

    def targets(self) -> Iterator[str]:
        """Dotted targets: ``from logomesh import x`` may name a submodule ``x``."""
        yield self.module
        for name in self.names:
            yield f"{self.module}.{name}"

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def _unit(dotted: str, package: Path) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "logomesh" or len(parts) < 2:
        return None
    name = parts[1]
    return name if (package / name).is_dir() or (package / f"{name}.py").is_file() else None


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def imports_in(path: Path, root: Path) -> list[Import]:
    """Every ``logomesh`` import in one file, with whether it runs."""
    package = root / "logomesh"
    me = _module_of(path, root)
    source = _unit(me, package) or "logomesh"
    base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, runtime)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(path, node.lineno, source, alias.name, (), runtime))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                prefix = base[: len(base) - node.level + 1]
                module = ".".join([*prefix, *([module] if module else [])])
            names = tuple(alias.name for alias in node.names)
            found.append(Import(path, node.lineno, source, module, names, runtime))
        else:  # function bodies, try/except, with...: a lazy import runs too
            for child in ast.iter_child_nodes(node):
                visit(child, runtime)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), True)
    return [i for i in found if i.module.split(".")[0] == "logomesh"]


def all_imports(root: Path) -> list[Import]:
    package = root / "logomesh"
    return [
        found
        for path in sorted(package.rglob("*.py"))
        if "sdk" not in path.relative_to(package).parts  # plugins' own code, not LogoMesh's
        for found in imports_in(path, root)
    ]


def _edges(imports: list[Import], root: Path) -> Iterator[tuple[str, str, Import]]:
    """(importing unit, imported unit, the import) for imports that cross units."""
    package = root / "logomesh"
    for found in imports:
        if found.source == "logomesh":
            continue
        for target in {_unit(t, package) for t in found.targets()} - {None, found.source}:
            assert target is not None
            yield found.source, target, found


def package_graph(root: Path) -> dict[str, dict[str, Import]]:
    """Unit -> the units it imports at run time (one import as the witness of each)."""
    graph: dict[str, dict[str, Import]] = {}
    for source, target, found in _edges(all_imports(root), root):
        if found.runtime:
            graph.setdefault(source, {}).setdefault(target, found)
    return graph


def find_circle(graph: dict[str, dict[str, Import]]) -> list[str] | None:
    """One circle of units (first unit repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit], _ = "open", path.append(unit)
        for nxt in sorted(graph.get(unit, {})):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (circle := visit(nxt)) is not None:
                return circle
        state[unit], _ = "done", path.pop()
        return None

    for unit in sorted(graph):
        if unit not in state and (circle := visit(unit)) is not None:
            return circle
    return None


def _explain(circle: list[str], graph: dict[str, dict[str, Import]], root: Path) -> str:
    steps = [
        f"{a} -> {b} ({graph[a][b].where(root)} imports {graph[a][b].module})"
        for a, b in itertools.pairwise(circle)
    ]
    return "; ".join(steps)


def layer_violations(root: Path) -> list[str]:
    rank = {unit: number for number, layer in enumerate(LAYERS) for unit in layer}
    problems = []
    for source, target, found in _edges(all_imports(root), root):
        if source not in rank or target not in rank:
            unknown = source if source not in rank else target
            problems.append(f"logomesh.{unknown} has no layer in LAYERS; give it one")
        elif found.runtime and rank[target] > rank[source]:
            problems.append(f"{found.where(root)}: {source} imports {found.module}, an outer layer")
    return sorted(set(problems))


def _public_names(root: Path, feature: str) -> set[str]:
    init = root / "logomesh" / feature / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return set(ast.literal_eval(node.value))
    return set()


def private_reaches(root: Path) -> list[str]:
    """Imports by one feature of another feature's internals (anything but its __all__)."""
    problems = []
    for source, target, found in _edges(all_imports(root), root):
        if source not in FEATURES or target not in FEATURES:
            continue
        public = found.module == f"logomesh.{target}" and set(found.names) <= _public_names(
            root, target
        )
        if not public:
            problems.append(
                f"{found.where(root)}: {source} imports {found.module} "
                f"{', '.join(found.names)}; use what logomesh.{target} exports"
            )
    return problems


def core_reaches(root: Path) -> list[str]:
    """Imports by the core of anything outside it (type-only ones too, but the Engine
    that a handler's context carries)."""
    problems = []
    for source, target, found in _edges(all_imports(root), root):
        if source in CORE and target not in CORE and (found.runtime or target != "engine"):
            problems.append(f"{found.where(root)}: the core imports {found.module}")
    return problems


def test_no_circle_of_imports_between_packages() -> None:
    graph = package_graph(ROOT)
    circle = find_circle(graph)
    assert circle is None, _explain(circle, graph, ROOT)


def test_each_package_imports_only_its_own_layer_or_inner_ones() -> None:
    assert layer_violations(ROOT) == []


def test_the_core_imports_no_feature() -> None:
    assert core_reaches(ROOT) == []


def test_features_use_only_what_other_features_export() -> None:
    assert private_reaches(ROOT) == []


@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    """A tiny logomesh/ with a core and two features that break every rule once."""

    def write(relative: str, text: str) -> None:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")

    write("logomesh/__init__.py", "")
    write("logomesh/errors.py", "")
    write("logomesh/config.py", "from logomesh.llm.settings import LLMSettings\n")
    write("logomesh/commands/__init__.py", "from logomesh.audit import trail\n")
    write("logomesh/llm/__init__.py", "__all__ = ['Message']\n")
    write("logomesh/llm/settings.py", "")
    write("logomesh/llm/models.py", "from ..config import RiskLevel\n")
    write(
        "logomesh/audit/__init__.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from logomesh.llm import Message\n",
    )
    write(
        "logomesh/audit/trail.py",
        "def later():\n    from logomesh.llm.models import Caller\n",
    )
    return tmp_path


def test_the_checks_catch_each_kind_of_violation(sample_tree: Path) -> None:
    """Each rule sees what it guards, so the checks above cannot pass vacuously."""
    graph = package_graph(sample_tree)
    # A relative import inside llm reaches config, which imports llm: a circle.
    assert find_circle(graph) == ["llm", "config", "llm"]
    assert graph["audit"]["llm"].line == 2  # the import inside a function counts
    assert layer_violations(sample_tree) == [
        "logomesh/commands/__init__.py:1: commands imports logomesh.audit, an outer layer",
        "logomesh/llm/models.py:1: llm imports logomesh.config, an outer layer",
    ]
    assert core_reaches(sample_tree) == [
        "logomesh/commands/__init__.py:1: the core imports logomesh.audit"
    ]
    assert private_reaches(sample_tree) == [
        "logomesh/audit/trail.py:2: audit imports logomesh.llm.models Caller; "
        "use what logomesh.llm exports"
    ]


def test_a_type_only_import_closes_no_circle(sample_tree: Path) -> None:
    (sample_tree / "logomesh/llm/settings.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from logomesh.config import X\n"
    )
    (sample_tree / "logomesh/llm/models.py").write_text("")
    assert find_circle(package_graph(sample_tree)) is None
