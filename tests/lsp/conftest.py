"""The real language server, started over stdio by pytest-lsp's client, per editor.

Each test gets its own workspace (a git repository), config directory and database; the
server is ``python -m lsp_server``, the same code ``logomesh lsp`` runs. The client speaks
for one editor at a time, from a capability snapshot: VS Code and Neovim as pytest-lsp
records them, and Helix 25.07.1, the current release (``clients/helix.json``, from Helix's
source: no ``window/showMessageRequest``, no pull diagnostics, no dynamic registration).
Its answers to the server's requests are the test's: ``editor.answer`` says what the
person clicks in a message request.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pytest_lsp import LanguageClient, client_capabilities, make_test_lsp_client

from tests.conftest import trust_now

HERE = Path(__file__).parent
SNAPSHOTS = {
    "vscode": "visual-studio-code@v1.65.2",
    "neovim": "neovim@v0.11.0",
    "helix": HERE / "clients" / "helix.json",
    # Helix's unreleased master: prompts, and declares pull diagnostics (not in ALL_CLIENTS).
    "helix-master": HERE / "clients" / "helix-master.json",
}
ALL_CLIENTS = ("vscode", "neovim", "helix")


def capabilities_of(client: str) -> types.ClientCapabilities:
    snapshot = SNAPSHOTS[client]
    if isinstance(snapshot, str):
        return client_capabilities(snapshot)
    from pygls.protocol import default_converter

    data = json.loads(snapshot.read_text(encoding="utf-8"))
    return default_converter().structure(data["capabilities"], types.ClientCapabilities)


@dataclass
class Editor:
    """A connected client, and what the server told it."""

    client: LanguageClient
    name: str
    workspace: Path
    env: dict[str, str]
    # What the person answers to window/showMessageRequest: an action title, or None.
    answer: str | None = "Run"
    asked: list[types.ShowMessageRequestParams] = field(default_factory=list)
    registrations: list[types.Registration] = field(default_factory=list)
    # Set while a test wants to hold the person's answer back.
    hold: asyncio.Event | None = None
    # What the server answered to initialize.
    initialized: types.InitializeResult | None = None
    # Set by a test that ended the connection itself (nothing to shut down).
    gone: bool = False
    # LogoMesh's own notifications (logomesh/engineReady, ...): (method, params as a dict).
    notified: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return self.workspace.as_uri()

    async def run(self, command: str, arguments: dict[str, Any] | None = None, **more: Any) -> Any:
        params = types.ExecuteCommandParams(command=command, arguments=[arguments or {}], **more)
        return await self.client.workspace_execute_command_async(params)

    def shown(self) -> list[str]:
        return [message.message for message in self.client.messages]

    def notes(self, method: str) -> list[dict[str, Any]]:
        """The params of each ``logomesh/<method>`` notification so far, oldest first."""
        return [params for name, params in self.notified if name == f"logomesh/{method}"]

    def advertised(self) -> set[str]:
        names: set[str] = set()
        for registration in self.registrations:
            options = registration.register_options
            if isinstance(options, dict):
                names |= set(options.get("commands", []))
        return names


def make_client(editor_ref: list[Editor]) -> LanguageClient:
    client = make_test_lsp_client()

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    async def show_message_request(
        ls: LanguageClient, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        editor = editor_ref[0]
        editor.asked.append(params)
        if editor.name == "helix":
            # Helix 25.07 has no handler for it (helix-term/src/application.rs).
            raise JsonRpcMethodNotFound.of(types.WINDOW_SHOW_MESSAGE_REQUEST)
        if editor.hold is not None:
            await editor.hold.wait()
        if editor.answer is None:
            return None
        return types.MessageActionItem(title=editor.answer)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(ls: LanguageClient, params: types.RegistrationParams) -> None:
        editor_ref[0].registrations.extend(params.registrations)

    @client.feature(types.CLIENT_UNREGISTER_CAPABILITY)
    def unregister_capability(ls: LanguageClient, params: types.UnregistrationParams) -> None:
        gone = {item.id for item in params.unregisterations}
        editor = editor_ref[0]
        editor.registrations = [r for r in editor.registrations if r.id not in gone]

    for method in STATUS_NOTIFICATIONS:
        client.feature(method)(_collector(editor_ref, method))
    return client


# What an extension may opt in to (lsp_server.features.status).
STATUS_NOTIFICATIONS = (
    "logomesh/engineReady",
    "logomesh/engineFailed",
    "logomesh/approvalsChanged",
)


def _collector(editor_ref: list[Editor], method: str) -> Callable[[LanguageClient, Any], None]:
    def collect(ls: LanguageClient, params: Any) -> None:
        editor_ref[0].notified.append((method, _plain(params)))

    return collect


def _plain(value: Any) -> Any:
    """pygls gives an unknown method's params as named tuples: back to JSON values."""
    if hasattr(value, "_asdict"):
        return {key: _plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@pytest.fixture
def lsp_env(test_env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    return {**keep, **test_env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture
def project(workspace: Path, lsp_env: dict[str, str]) -> Path:
    """A git repository with one commit, trusted by the test's user."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(workspace)], check=True)
    (workspace / "README.md").write_text("# demo\n", encoding="utf-8")
    git = ["git", "-C", str(workspace), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    trust_now(workspace, lsp_env)
    return workspace


StartEditor = Callable[..., "asyncio.Future[Editor]"]


@pytest_asyncio.fixture
async def start_editor(project: Path, lsp_env: dict[str, str]) -> AsyncIterator[Callable[..., Any]]:
    """Start the server and initialize it as ``client`` would; stopped after the test."""
    started: list[Editor] = []

    async def start(
        client: str = "vscode",
        *,
        options: dict[str, Any] | None = None,
        folders: list[Path] | None = None,
        env: dict[str, str] | None = None,
        configuration: dict[str, Any] | None = None,
        command: list[str] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> Editor:
        ref: list[Editor] = []
        lsp = make_client(ref)
        environ = {**lsp_env, **(env or {})}
        editor = Editor(lsp, client, project, environ)
        ref.append(editor)
        if configuration is not None:
            lsp.set_configuration(configuration, section="logomesh")
        argv = command or [sys.executable, "-m", "lsp_server"]
        await lsp.start_io(*argv, env=environ, cwd=str(project))
        roots = folders or [project]
        editor.initialized = await lsp.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or capabilities_of(client),
                root_uri=roots[0].as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=root.as_uri(), name=root.name) for root in roots
                ],
                initialization_options=options,
            )
        )
        started.append(editor)
        return editor

    yield start
    for editor in started:
        if not editor.gone:
            await editor.client.shutdown_session()
        await editor.client.stop()


async def eventually(check: Callable[[], Any], within: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true (the server works asynchronously)."""
    async with asyncio.timeout(within):
        # Polling: what is checked lives in another process (or a client's list), no event.
        while not (value := check()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return value


def declare(project: Path, env: dict[str, str], toml: str) -> None:
    """Write the project's logomesh.toml and trust the workspace as it now is."""
    (project / "logomesh.toml").write_text(toml, encoding="utf-8")
    trust_now(project, env)


# A chatty project command that runs until stopped, and one that needs a yes.
_CHATTY_CODE = (
    "import time\\nfor i in range(1200):\\n    print('line', i, flush=True)\\n    time.sleep(0.05)"
)
CHATTY = f"""
[[devshell.commands]]
name = "chatty"
summary = "Print a line every 50 ms for a minute"
argv = ["{sys.executable}", "-c", "{_CHATTY_CODE}", "logomesh-chatty-marker"]
risk = "read"

[[devshell.commands]]
name = "wipe"
summary = "Pretend to wipe the build directory"
argv = ["{sys.executable}", "-c", "print('wiped')"]
risk = "danger"
"""
