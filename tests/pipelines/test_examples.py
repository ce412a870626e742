"""The example pipelines in the repository's pipelines/ folder, run as a user runs them.

Each file is copied into a scratch git repository that holds a small Python project (its
lint and tests fail or pass as the test needs) and the todo-finder plugin, the workspace is
trusted, and an engine with every feature runs ``pipeline.NAME`` through ``Engine.execute``:
real ruff and pytest processes, the real local model (kept small: ``max_tokens: 64``), the
real plugin, a local bare repository as the remote that ``git.push`` pushes to.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested
from logomesh.llm.pool import ModelPool
from logomesh.pipelines.catalogue import read_entry
from logomesh.pipelines.events import StepFinished
from logomesh.pipelines.store import RunRecord
from logomesh.pipelines.validation import validate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "pipelines"
ME = Actor(Source.CLI, getpass.getuser())
pytestmark = pytest.mark.slow  # real processes, a real plugin and the real local model

PYPROJECT = """\
[project]
name = "demo"
version = "0.1.0"

[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
"""
GOOD_CODE = "def add(a, b):\n    return a + b\n"
LINT_PROBLEM = "import os\n\n\ndef add(a, b):\n    return a + b\n"  # F401: os unused
GOOD_TEST = "from demo import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
FAILING_TEST = "from demo import add\n\n\ndef test_add():\n    assert add(2, 2) == 5\n"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def model_pool() -> Iterator[ModelPool]:
    """One local model for the file's tests (loading it is the slow part)."""
    pool = ModelPool()
    yield pool
    pool.close()


@pytest.fixture
def project(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workspace as a git repository on ``main``: a Python project whose lint and tests
    pass, the three example pipelines, and the todo-finder plugin."""
    # ruff and pytest from this virtualenv, as an activated venv would have them.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "config", "user.name", "Ada Lovelace")
    git(workspace, "config", "user.email", "ada@example.com")
    git(workspace, "config", "commit.gpgsign", "false")
    shutil.copytree(EXAMPLES, workspace / "pipelines")
    shutil.copytree(ROOT / "plugins" / "todo-finder", workspace / "plugins" / "todo-finder")
    files = {
        ".gitignore": ".logomesh/\n__pycache__/\n.pytest_cache/\n.ruff_cache/\n",
        "pyproject.toml": PYPROJECT,
        "src/demo.py": GOOD_CODE,
        "tests/test_demo.py": GOOD_TEST,
    }
    commit(workspace, files, "A project whose checks pass")
    git(workspace, "add", "pipelines", "plugins")
    git(workspace, "commit", "-q", "-m", "Pipelines and the TODO plugin")
    return workspace


@pytest.fixture
def make_engine(
    project: Path, load: Callable[..., LoadedSettings], model_pool: ModelPool
) -> Iterator[Callable[[], Engine]]:
    """An engine with every feature over the project, trusted as it is when built (after
    the test has written its files: the plugin and the pipelines are the person's own)."""
    made: list[Engine] = []

    def _make() -> Engine:
        cache = Path.home() / ".cache" / "logomesh" / "models"
        flags = {"nl": {"model_cache_dir": str(cache)}, "plugins": {"entry_points": False}}
        loaded = load(flags)
        made.append(build_engine(loaded.settings, provenance=loaded.provenance, models=model_pool))
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


def steps_of(result: CommandResult, engine: Engine) -> dict[str, str]:
    """Each step's state in the stored run (a failed run's result carries no data)."""
    return {step.step_id: str(step.state) for step in stored_run(engine, result).steps
            if step.item == 0}  # fmt: skip


def stored_run(engine: Engine, result: CommandResult) -> RunRecord:
    [run] = engine.pipeline_runs.runs(None, 1)
    assert run.correlation_id == result.correlation_id
    return engine.pipeline_runs.get(run.id)


def assert_audit_tree(engine: Engine, result: CommandResult, ran: list[str]) -> list[AuditRecord]:
    """The run's root record is the pipeline command's; under it (parent_id) is exactly one
    record per step that ran (per item of a for_each), made via the pipeline for the person
    who started the run, and it is the record the stored step points to. Returns them."""
    every = engine.audit.store.query(AuditFilter(limit=None, oldest_first=True))
    [root] = [r for r in every if r.id == result.audit_id]
    assert root.action == result.command and root.correlation_id == result.correlation_id
    assert root.parent_id is None
    under = [r for r in every if r.parent_id == result.correlation_id]
    assert {str(r.source) for r in under} == {"pipeline"}
    assert {r.actor for r in under} == {root.actor}
    # A danger step's "started" record comes first (durable_from); the outcome is its own.
    records = {r.id: r for r in under if str(r.outcome) != "started"}
    assert sorted(r.action for r in records.values()) == sorted(ran)
    pointed = {s.audit_id: s.command for s in stored_run(engine, result).steps if s.audit_id}
    assert {key: records[key].action for key in pointed} == pointed
    assert set(pointed) == set(records)
    return list(records.values())


def run_pipeline(engine: Engine, name: str, **inputs: Any) -> CommandResult:
    return run_sync(engine, CommandRequest(f"pipeline.{name}", ME, inputs))


# -- all three ------------------------------------------------------------------------


def test_the_examples_are_valid_against_a_real_engines_commands(
    project: Path, make_engine: Callable[[], Engine]
) -> None:
    """What `logomesh pipeline validate` checks, for each file: read, validated against the
    engine's registry (todos.find is the trusted plugin's) and registered as a command."""
    engine = make_engine()
    files = sorted(path.name for path in EXAMPLES.iterdir())
    assert files == ["ci.yaml", "release.yaml", "review.yaml"]
    known = {spec.name for spec in engine.registry}
    for name in files:
        entry = read_entry(project / "pipelines" / name)
        assert entry.document is not None and not entry.problems, entry.problems
        pipeline = validate(entry.document, known_commands=known, pipelines={})
        assert f"pipeline.{pipeline.name}" in engine.registry
    assert [(e.name, e.valid, e.problems) for e in engine.pipelines.entries] == [
        ("ci", True, ()), ("release", True, ()), ("review", True, ())]  # fmt: skip
    checked = run_sync(engine, CommandRequest("pipeline.validate", ME))
    assert checked.ok and checked.message == "3 pipeline files are valid.", checked.message
    risks = {row["name"]: row["risk"] for row in checked.data}
    assert risks == {"ci": "write", "release": "danger", "review": "read"}


def test_without_the_plugin_review_is_reported_and_the_others_load(
    project: Path, make_engine: Callable[[], Engine]
) -> None:
    """A workspace that lacks todo-finder (or does not trust it) gets a clear problem for
    review.yaml at the step that names it; ci and release still run."""
    shutil.rmtree(project / "plugins")
    engine = make_engine()
    entries = {e.name: e for e in engine.pipelines.entries}
    assert entries["ci"].valid and entries["release"].valid
    [problem] = entries["review"].problems
    assert problem.path == "steps[2].uses" and "unknown command 'todos.find'" in problem.message
    assert "pipeline.review" not in engine.registry


# -- ci.yaml ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "lint_problems", "tests_passed"),
    [({"tests/test_demo.py": FAILING_TEST}, 0, False), ({"src/demo.py": LINT_PROBLEM}, 1, True)],
    ids=["failing-test", "lint-problem"],
)
def test_ci_that_finds_a_problem_fails_and_the_model_summarises(
    project: Path, make_engine: Callable[[], Engine], broken: dict[str, str],
    lint_problems: int, tests_passed: bool,
) -> None:  # fmt: skip
    commit(project, broken, "Break something")
    engine = make_engine()
    result = run_pipeline(engine, "ci")
    assert not result.ok and result.error is not None
    assert result.error.code == "pipeline.run_failed", result.message
    assert "verdict (failed)" in result.message and "summary" not in result.message
    run = stored_run(engine, result)
    steps = {step.step_id: step for step in run.steps}
    assert {k: str(v.state) for k, v in steps.items()} == {"lint": "succeeded",
        "tests": "succeeded", "verdict": "failed", "summary": "succeeded"}  # fmt: skip
    assert steps["lint"].output["count"] == lint_problems
    assert steps["tests"].output["passed"] is tests_passed
    assert steps["verdict"].error is not None and steps["verdict"].error.startswith("CI failed.")
    summary = steps["summary"].output
    assert summary["text"].strip() and 0 < summary["tokens_out"] <= 64
    assert_audit_tree(engine, result, ["lint.check", "tests.run", "pipeline.check", "llm.ask"])


def test_ci_with_everything_passing_succeeds_without_a_summary(
    project: Path, make_engine: Callable[[], Engine]
) -> None:
    engine = make_engine()
    result = run_pipeline(engine, "ci")
    assert result.ok, result.message
    steps = result.data["steps"]
    assert {k: v["state"] for k, v in steps.items()} == {"lint": "succeeded",
        "tests": "succeeded", "verdict": "succeeded", "summary": "skipped"}  # fmt: skip
    assert steps["lint"]["data"]["count"] == 0 and steps["tests"]["data"]["passed"] is True
    assert result.data["outputs"]["summary"] is None and result.data["warnings"] == []
    assert_audit_tree(engine, result, ["lint.check", "tests.run", "pipeline.check"])


# -- review.yaml -----------------------------------------------------------------------

CHANGED = GOOD_CODE + "\n\ndef sub(a, b):\n    # TODO(bob): handle overflow\n    return a - b\n"


def test_review_diffs_a_branch_reviews_it_and_finds_the_todos_it_adds(
    project: Path, make_engine: Callable[[], Engine]
) -> None:
    commit(project, {"README.md": "# demo\n"}, "main moves on after the branch")
    git(project, "checkout", "-q", "-b", "feature", "HEAD~1")
    commit(project, {"src/demo.py": CHANGED, "src/more.py": "X = 1\n"}, "Subtraction")
    git(project, "mv", "tests/test_demo.py", "tests/test_add.py")
    commit(project, {"tests/test_add.py": GOOD_TEST + "# TODO: test negative numbers\n"},
           "Rename the test, with a note")  # fmt: skip
    engine = make_engine()
    result = run_pipeline(engine, "review", base="main")
    assert result.ok, result.message
    steps, outputs = result.data["steps"], result.data["outputs"]
    # base...HEAD: what the branch adds, not main's own later commit (README.md).
    changed = [(f["path"], f["old_path"]) for f in outputs["files"]]
    assert changed == [("src/demo.py", None), ("src/more.py", None),
                       ("tests/test_add.py", "tests/test_demo.py")]  # fmt: skip
    assert steps["diff"]["data"]["ref"] == "main...HEAD"
    assert steps["review"]["state"] == "succeeded" and outputs["review"].strip()
    assert steps["review"]["data"]["tokens_out"] <= 64
    # One todos.find per changed file, in the files' order.
    demo, more, renamed = outputs["todos"]
    found = [(n["file"], n["line"], n["assignee"], n["text"], n["author"]) for n in demo["notes"]]
    assert found == [("src/demo.py", 6, "bob", "handle overflow", "Ada Lovelace")]
    assert more["notes"] == []
    # A renamed file is looked for under the name it has now.
    assert [(n["file"], n["text"]) for n in renamed["notes"]] == [
        ("tests/test_add.py", "test negative numbers")]  # fmt: skip
    assert_audit_tree(engine, result, ["git.diff", "llm.ask"] + ["todos.find"] * 3)


def test_review_of_a_branch_with_no_changes_finds_no_todos(
    project: Path, make_engine: Callable[[], Engine]
) -> None:
    engine = make_engine()
    result = run_pipeline(engine, "review")  # base defaults to main, which HEAD is
    assert result.ok, result.message
    assert result.data["outputs"]["files"] == [] and result.data["outputs"]["todos"] == []


# -- release.yaml ----------------------------------------------------------------------


@pytest.fixture
def remote(project: Path, tmp_path: Path) -> Path:
    """A bare repository on this machine as the project's ``origin``: nothing leaves it."""
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(project, "remote", "add", "origin", str(bare))
    return bare


def remote_head(bare: Path, branch: str) -> str | None:
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                          cwd=bare, capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip() or None


async def release(engine: Engine, approve_push: bool) -> tuple[CommandResult, dict[str, str]]:
    """Start ``pipeline.release`` as the CLI would (waiting for approval, nobody to confirm
    at once); approve the run itself, then decide its push step's ticket with ``approve_push``
    once it opens. Returns the result and the step states seen when the push asked."""
    tickets: asyncio.Queue[ApprovalRequested] = asyncio.Queue()
    finished: dict[str, str] = {}
    unsubscribe = [
        engine.events.subscribe(ApprovalRequested, tickets.put_nowait),
        engine.events.subscribe(StepFinished, lambda e: finished.__setitem__(e.step, e.state)),
    ]
    request = CommandRequest("pipeline.release", ME, {"remote": "origin", "branch": "main"},
                             wait_for_approval=True)  # fmt: skip
    try:
        task = asyncio.create_task(engine.execute(request))
        run_ticket = await asyncio.wait_for(tickets.get(), 30)
        assert (run_ticket.command, run_ticket.risk) == ("pipeline.release", "danger")
        await engine.decide(run_ticket.ticket_id, ME, True)
        push_ticket = await asyncio.wait_for(tickets.get(), 60)
        assert push_ticket.command == "git.push"
        assert push_ticket.arguments == {"remote": "origin", "branch": "main", "force": False}
        seen = dict(finished)
        await asyncio.sleep(0.2)  # the push still waits: nothing else finishes meanwhile
        assert finished == seen and not task.done()
        await engine.decide(push_ticket.ticket_id, ME, approve_push)
        result = await asyncio.wait_for(task, 60)
    finally:
        for stop in unsubscribe:
            stop()
    return result, seen


def test_release_runs_the_tests_then_waits_for_approval_to_push(
    project: Path, remote: Path, make_engine: Callable[[], Engine]
) -> None:
    engine = make_engine()
    result, when_asked = asyncio.run(release(engine, approve_push=True))
    assert when_asked == {"tests": "succeeded", "tests-passed": "succeeded"}
    assert result.ok, result.message
    assert {k: v["state"] for k, v in result.data["steps"].items()} == {
        "tests": "succeeded", "tests-passed": "succeeded", "push": "succeeded"}  # fmt: skip
    assert result.data["outputs"] == {"pushed": "Pushed main to origin."}
    assert remote_head(remote, "main") == git(project, "rev-parse", "HEAD").strip()
    records = assert_audit_tree(engine, result, ["tests.run", "pipeline.check", "git.push"])
    [push] = [r for r in records if r.action == "git.push"]
    assert str(push.outcome) == "ok"
    # The push's ticket: asked and approved under the push step's own correlation id.
    ticket = engine.audit.store.query(
        AuditFilter(correlation_id=push.correlation_id, action="approval.*", oldest_first=True)
    )
    assert [r.action for r in ticket] == ["approval.requested", "approval.approved"]


def test_release_with_the_push_declined_fails_and_pushes_nothing(
    project: Path, remote: Path, make_engine: Callable[[], Engine]
) -> None:
    engine = make_engine()
    result, when_asked = asyncio.run(release(engine, approve_push=False))
    assert when_asked == {"tests": "succeeded", "tests-passed": "succeeded"}
    assert not result.ok and result.error is not None
    assert result.error.code == "pipeline.run_failed" and "push (" in result.message
    assert steps_of(result, engine)["push"] == "cancelled"  # it never ran: nothing was done
    assert remote_head(remote, "main") is None
    records = assert_audit_tree(engine, result, ["tests.run", "pipeline.check", "git.push"])
    [push] = [r for r in records if r.action == "git.push"]
    assert str(push.outcome) != "ok"
    ticket = engine.audit.store.query(
        AuditFilter(correlation_id=push.correlation_id, action="approval.*", oldest_first=True)
    )
    assert [r.action for r in ticket] == ["approval.requested", "approval.declined"]


def test_release_with_failing_tests_never_asks_to_push(
    project: Path, remote: Path, make_engine: Callable[[], Engine]
) -> None:
    commit(project, {"tests/test_demo.py": FAILING_TEST}, "A test that fails")
    engine = make_engine()
    result = run_sync(engine, CommandRequest("pipeline.release", ME, {}, confirmed=True))
    assert not result.ok and "tests-passed (failed)" in result.message
    assert steps_of(result, engine) == {
        "tests": "succeeded", "tests-passed": "failed", "push": "skipped"}  # fmt: skip
    assert remote_head(remote, "main") is None
    assert_audit_tree(engine, result, ["tests.run", "pipeline.check"])
