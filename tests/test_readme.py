"""Every command in README.md, run as written in a fresh clone after what `make run` does.

The README is the first thing a new user runs, so each `logomesh ...` line of its ``sh``
blocks and each ``logomesh>`` line of its ``text`` blocks is either run here (in one clone of
the committed tree, set up with `logomesh init` and `logomesh trust` by the installed console
script, with a private HOME and config directory, no network and no terminal) and checked
for its exit code and the words its comment promises, or listed in :data:`README_COMMANDS`
as not run, with the reason. A README command in neither fails
:func:`test_every_readme_command_is_run_or_listed`, and so does an entry no longer in the
README: the table and the README change together.

Shell lines (``logomesh> status``) run through `logomesh run`, the same command by the same
door: without a terminal the shell prints the status and exits, which the clone fixture
checks as `make run`'s last step.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LOGOMESH = Path(sys.executable).parent / "logomesh"
SHELL_PROMPT = "logomesh> "

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Runs:
    """Run it; expect ``code`` and each of ``says`` in its output (spaces normalised)."""

    says: tuple[str, ...] = ()
    code: int = 0
    # The command actually run, when the README's line is not a command line (a shell line).
    via: str = ""
    # Prepares the clone first (a README example that presumes work in progress).
    before: Callable[[Path], None] | None = None
    # A file the line writes (`> audit.csv`), and what it starts with.
    writes: tuple[str, str] | None = None


@dataclass(frozen=True)
class NotRun:
    reason: str


def _uncommitted_change(clone: Path) -> None:
    """`git diff | ...` reviews work in progress; a fresh clone has none, so make some."""
    # The end of the README: a short diff (the local model reads all of it).
    with (clone / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nA line under review.\n")


# Keyed by the README's command text (its comment left out), in the README's order.
README_COMMANDS: dict[str, Runs | NotRun] = {
    # -- A short tour: the shell's lines, by the same command through `logomesh run` -------
    "logomesh> status": Runs(("workspace", "database", "audit"), via="logomesh run status"),
    "logomesh> whoami": Runs(("roles", "permissions", "owner"), via="logomesh run whoami"),
    "logomesh> help": Runs(("audit.query", "audit.verify"), via="logomesh commands"),
    "logomesh> audit.query limit=5": Runs(("whoami",), via="logomesh run audit.query limit=5"),
    "logomesh> audit.verify": Runs(("Audit trail intact",), via="logomesh run audit.verify"),
    "logomesh> clear": NotRun("it clears the shell's screen (tests/cli/test_shell.py, a pty)"),
    "logomesh> db.restore path=...": NotRun(
        "`...` is a placeholder for a backup file; restoring replaces the database "
        "(tests/storage cover db.restore, tests/approvals its confirmation)"
    ),
    # -- The same commands from the command line ------------------------------------------
    "logomesh init": NotRun("run by the clone fixture, as `make run` does (exit 0 checked)"),
    "logomesh trust [--revoke]": NotRun(
        "`[--revoke]` is notation; `logomesh trust` is run by the clone fixture, as `make "
        "run` does (exit 0 checked); tests/security/test_trust.py covers --revoke"
    ),
    "logomesh commands": Runs(("audit.query", "git.status", "todos.find")),
    "logomesh run audit.query actor=alice since=2h": Runs(("0 records",)),  # no alice here
    "logomesh audit tail -n 20": Runs(("whoami",)),
    "logomesh audit query --action 'db.*' --outcome denied --since 7d": Runs(("records",)),
    'logomesh audit search "who restarted the database" --since 7d': Runs(("best match first",)),
    "logomesh audit verify": Runs(("Audit trail intact",)),
    "logomesh audit checkpoint": Runs(("Signed checkpoint at record #",)),
    "logomesh audit key": Runs(("public_key", "trusted_public_keys")),
    "logomesh audit export --format csv > audit.csv": Runs(
        writes=("audit.csv", "seq,id,timestamp,actor,source,action")
    ),
    "logomesh audit prune --payloads-older-than 90d --yes": Runs(("Pruned 0 payloads",)),
    "logomesh db status | upgrade | downgrade REV | backup [FILE] | restore FILE": NotRun(
        "five alternatives in one line, with placeholders (REV, FILE); tests/storage and "
        "tests/cli run each of db status, upgrade, downgrade, backup and restore"
    ),
    "logomesh config show": Runs(("database.url", "logomesh.toml")),
    "logomesh --mode readonly db backup": Runs(
        ("may not run db.backup: readonly mode allows only read commands",), code=3
    ),
    "logomesh --wait db restore FILE": NotRun(
        "FILE is a placeholder, and --wait waits for another person's approval "
        "(tests/approvals cover --wait)"
    ),
    'logomesh approvals list | show ID | approve ID | decline ID --reason "..."': NotRun(
        "four alternatives in one line, with placeholders (ID); tests/approvals run each"
    ),
    "logomesh lsp": NotRun("a language server on stdio that an editor starts (tests/lsp)"),
    # -- Natural language -------------------------------------------------------------------
    # "read risk, confident: runs at once"; which command it runs is nl's (item 2).
    # The clone is checked out on main, so there are no commits since it.
    'logomesh do "what changed since main?"': Runs(
        ("git.log", "read risk", "No commits on HEAD since main")
    ),
    # "write risk: asks first (or --yes)": with no terminal to ask, it is not confirmed (4).
    'logomesh do "run the tests in tests/test_config.py"': Runs(
        ("tests.run", "write-risk", "needs your yes", "--yes"), code=4
    ),
    # "danger risk: asks, even with --yes": with no terminal it says what to type instead.
    'logomesh do "push my branch"': Runs(
        ("git.push", "danger-risk", "logomesh run git.push --yes"), code=4
    ),
    'logomesh do --dry-run --json "push my branch"': Runs(
        ('"command": "git.push"', '"risk": "danger"')
    ),
    'logomesh do "who restarted the database"': Runs(("audit.search", "best match first")),
    'logomesh audit search "failed deploys" --since 7d --actor alice': Runs(
        ("0 records, best match first",)  # no alice here
    ),
    # -- Language models ----------------------------------------------------------------------
    "logomesh llm list": Runs(
        ("gemma-3-270m", "all-minilm-l6-v2", "ready", "good for", "not instruction-tuned")
    ),
    # The answer's words are the model's; the footer says which model gave it.
    'logomesh llm ask "what does git rebase do?"': Runs(("gemma-3-270m ·",)),
    'git diff | logomesh llm ask --system "Review this diff" -': Runs(
        ("gemma-3-270m ·",), before=_uncommitted_change
    ),
    'logomesh llm ask --model gpt --json "..."': NotRun(
        "`gpt` is the model the README declares next (an OpenAI account and key); "
        "tests/llm run openai-compatible models against a loopback server"
    ),
    # The built-in model is a pre-trained one: it answers, but not the one word asked for.
    "logomesh llm test gemma": Runs(
        ("gemma-3-270m", "does not follow a one-word instruction", "llm add"), code=1
    ),
    "logomesh llm add llama3 --provider ollama --model llama3.2:3b --default chat": NotRun(
        "it declares an Ollama model this machine does not serve, as the default chat model "
        "of every line after it; tests/llm/test_honest_builtin.py and tests/cli/"
        "test_llm_cli.py run `llm add` and `llm list` after it"
    ),
    "logomesh llm usage --since 7d": Runs(("gemma-3-270m", "model call")),
    # -- Plugins --------------------------------------------------------------------------------
    "logomesh plugin list": Runs(("todo-finder", "npm-scripts", "release-notes", "announcer")),
    "logomesh run todos.find limit=10": Runs(("TODO", "author")),
    "logomesh run scripts.list path=vscode-extension": Runs(("scripts: build", "package")),
    "logomesh run release.notes commits=10": Runs(("## Changes",)),
    "logomesh run announcements.list": Runs(("release-notes",)),
    "logomesh plugin new my-tool --runtime node": Runs(("my-tool",)),
    "logomesh plugin check plugins/my-tool": Runs(("Plugin my-tool: passed",)),
    "logomesh plugin stats --start": Runs(("todo-finder", "running")),
    "logomesh plugin doctor": Runs(("clean environment", "process group")),
    # -- Pipelines ------------------------------------------------------------------------------
    "logomesh pipeline list": Runs(("ci", "review", "release")),
    "logomesh pipeline run ci": NotRun(
        "it runs this repository's whole test suite (about 20 minutes), this test among "
        "them; tests/pipelines run the ci pipeline on a small project"
    ),
    "logomesh pipeline run release -i remote=origin": NotRun(
        "it ends in a git push (tests/pipelines run it against a local bare remote)"
    ),
    "logomesh pipeline runs": Runs(("No pipeline runs yet",)),
}


def readme_commands(text: str) -> list[str]:
    """The `logomesh` lines of the README's sh and text blocks, comments left out."""
    found = []
    for language, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        if language not in ("sh", "text"):
            continue
        for line in body.splitlines():
            command = re.split(r"\s+#\s", line, maxsplit=1)[0].strip()
            if command.startswith(SHELL_PROMPT.strip()) or re.search(
                r"(^|\|\s*)logomesh\s", command
            ):
                found.append(command)
    return found


def test_every_readme_command_is_run_or_listed() -> None:
    in_readme = readme_commands(README.read_text(encoding="utf-8"))
    missing = [c for c in in_readme if c not in README_COMMANDS]
    stale = [c for c in README_COMMANDS if c not in in_readme]
    assert not missing, (
        "README commands neither run nor listed: add each to README_COMMANDS in "
        f"tests/test_readme.py, as Runs(...) or NotRun(reason): {missing}"
    )
    assert not stale, f"README_COMMANDS entries no longer in README.md: {stale}"


def test_the_harness_finds_shell_lines_commands_pipes_and_leaves_comments() -> None:
    sample = (
        "```text\nlogomesh> status    # the state\nnot a command\n```\n"
        "```sh\nmake run     # setup\nlogomesh run x  # runs x\n"
        "git diff | logomesh llm ask -\n```\n"
        '```toml\nname = "logomesh x"\n```\n'
    )
    assert readme_commands(sample) == [
        "logomesh> status",
        "logomesh run x",
        "git diff | logomesh llm ask -",
    ]


@dataclass(frozen=True)
class Clone:
    path: Path
    env: dict[str, str]


def _run(argv: list[str], clone: Clone, given: str = "") -> subprocess.CompletedProcess[str]:
    """One process in the clone, its stdin ``given`` (a pipe, never a terminal)."""
    return subprocess.run(
        argv,
        cwd=clone.path,
        env=clone.env,
        input=given,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clone]:
    """This repository's committed tree, cloned, then what `make run` does in it."""
    base = tmp_path_factory.mktemp("readme")
    path = base / "LogoMesh"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    # A fresh clone is on main; this one may be on a branch, so it is called main.
    subprocess.run(["git", "checkout", "-q", "-B", "main"], cwd=path, check=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    env = {
        **keep,
        "HOME": str(base / "home"),
        "XDG_CONFIG_HOME": str(base / "config"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "COLUMNS": "200",
        "NO_COLOR": "1",
        # The traced embedding model, as a user's later runs have it (seconds per `do`).
        "LOGOMESH_NL__MODEL_CACHE_DIR": str(Path.home() / ".cache" / "logomesh" / "models"),
    }
    made = Clone(path, env)
    for step in (["init"], ["trust"], ["shell"]):
        done = _run([str(LOGOMESH), *step], made)
        assert done.returncode == 0, f"logomesh {step[0]}: {done.stdout}{done.stderr}"
    # The shell, with no terminal, printed the status of the workspace `trust` turned on.
    assert "workspace_trusted yes" in " ".join(done.stdout.split()), done.stdout
    yield made


def test_make_run_in_a_fresh_clone_leaves_git_status_clean(clone: Clone) -> None:
    """`make run` is init, trust and the shell; without a terminal the shell prints the
    status and exits 0 (checked by the fixture); nothing it writes is left untracked."""
    status = _run(["git", "status", "--porcelain"], clone)
    assert status.stdout == ""


def _pipeline(command: str) -> tuple[list[list[str]], str | None]:
    """``a | b > file`` as argv lists and the file, without a shell (no shell=True)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="|>")
    lexer.whitespace_split = True
    stages: list[list[str]] = [[]]
    target = None
    tokens = list(lexer)
    for index, token in enumerate(tokens):
        if token == "|":
            stages.append([])
        elif token == ">":
            target = tokens[index + 1]
            break
        else:
            stages[-1].append(token)
    return [[str(LOGOMESH) if w == "logomesh" else w for w in s] for s in stages], target


def test_the_harness_runs_pipes_and_redirects_without_a_shell() -> None:
    stages, target = _pipeline('git diff | logomesh llm ask --system "Review this diff" -')
    assert stages == [
        ["git", "diff"],
        [str(LOGOMESH), "llm", "ask", "--system", "Review this diff", "-"],
    ]
    assert target is None
    stages, target = _pipeline("logomesh audit export --format csv > audit.csv")
    assert stages == [[str(LOGOMESH), "audit", "export", "--format", "csv"]]
    assert target == "audit.csv"
    stages, _ = _pipeline("logomesh audit query --action 'db.*'")
    assert stages == [[str(LOGOMESH), "audit", "query", "--action", "db.*"]]


def run_readme_line(command: str, clone: Clone) -> tuple[int, str]:
    """Exit code and combined output of a README line, pipes and `>` done here."""
    stages, target = _pipeline(command)
    given = ""
    done = None
    for argv in stages:
        done = _run(argv, clone, given)
        given = done.stdout
    assert done is not None
    output = done.stdout + done.stderr
    if target is not None:
        (clone.path / target).write_text(done.stdout)
    return done.returncode, output


RUN = [command for command, entry in README_COMMANDS.items() if isinstance(entry, Runs)]


@pytest.mark.parametrize("command", RUN)
def test_readme_command(clone: Clone, command: str) -> None:
    entry = README_COMMANDS[command]
    assert isinstance(entry, Runs)
    if entry.before is not None:
        entry.before(clone.path)
    code, output = run_readme_line(entry.via or command, clone)
    said = " ".join(output.split())
    assert code == entry.code, f"{command}: exit {code}, not {entry.code}:\n{output}"
    for words in entry.says:
        assert words in said, f"{command}: {words!r} not in its output:\n{output}"
    if entry.writes is not None:
        name, start = entry.writes
        assert (clone.path / name).read_text(encoding="utf-8").startswith(start)
