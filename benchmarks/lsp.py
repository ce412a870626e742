"""The language server (issue 13): start-up, the cost of the protocol around a command, code
actions, and whether the server's loop keeps answering during long work.

Every figure is taken from outside, as an editor sees it: the server is ``logomesh lsp`` in
its own process on a private, trusted git workspace, spoken to over stdio by pygls' real
client (or, for start-up, by raw frames written and read by this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.table import Row
from benchmarks.timing import median, percentile
from benchmarks.workspace import Workspace, private_workspace, trust

INIT_TARGET_MS = 600.0
COMMAND_OVERHEAD_P95_MS = 20.0
CODE_ACTION_P95_MS = 50.0
LAG_P99_MS = 20.0
LOGOMESH = Path(sys.executable).parent / "logomesh"

INIT_MEASURES = (
    "Milliseconds from starting the process to having read its whole `initialize` response "
    "(a frame written to its stdin at once, read from its stdout): `logomesh lsp` as editors "
    "start it; beside it, for scale, a bare pygls 2 server that registers nothing and "
    "`python -c 'import lsprotocol.types'`, on the same machine in the same run."
)
COMMAND_MEASURES = (
    "A pygls client's round trip of `workspace/executeCommand logomesh.git.status` minus the "
    "command's own `duration_ms` (the engine's, in its result): JSON-RPC framing both ways, "
    "pygls' dispatch, the server's request tracking, progress timer and result rendering."
)
CODE_ACTION_MEASURES = (
    "A pygls client's round trip of `textDocument/codeAction` for a 40-line selection of an "
    "open Python file with one diagnostic in the context: the list only, no model runs."
)
LAG_MEASURES = (
    "While the server runs a long command (a DevShell command printing a line every 50 ms, "
    "streamed as $/progress; a 200-token answer of the local Gemma model), the client sends "
    "a request the server answers on its loop (`logomesh.run` with no command: an "
    "invalid-params error) every 20 ms; lag is each round trip minus the median round trip "
    "of the same request with the server idle."
)

CHATTY_CODE = (
    "import time\\nfor i in range(200):\\n    print('line', i, flush=True)\\n    time.sleep(0.05)"
)
CHATTY = f"""
[[devshell.commands]]
name = "chatty"
summary = "Print a line every 50 ms"
argv = ["{sys.executable}", "-c", "{CHATTY_CODE}"]
risk = "read"
"""
BARE_SERVER = (
    "from pygls.lsp.server import LanguageServer\nLanguageServer('bare', '1').start_io()\n"
)
SOURCE = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(20))


def run(quick: bool = False) -> list[Row]:
    with private_workspace() as workspace:
        _project(workspace)
        rows = _start_up_rows(workspace, 3 if quick else 15)
        rows += asyncio.run(_session_rows(workspace, quick))
    return rows


def _project(workspace: Workspace) -> None:
    root = workspace.root
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "logomesh.toml").write_text(CHATTY, encoding="utf-8")
    (root / "module.py").write_text(SOURCE, encoding="utf-8")
    trust(workspace)


# -- start-up ------------------------------------------------------------------------------


def _start_up_rows(workspace: Workspace, runs: int) -> list[Row]:
    env = {**workspace.process_environ(), "HF_HUB_OFFLINE": "1"}
    ours = [_time_initialize([str(LOGOMESH), "lsp"], workspace, env) for _ in range(runs)]
    bare = [
        _time_initialize([sys.executable, "-c", BARE_SERVER], workspace, env) for _ in range(runs)
    ]
    lsprotocol = [
        _time_process([sys.executable, "-c", "import lsprotocol.types"], env) for _ in range(runs)
    ]
    return [
        Row("`logomesh lsp` spawn to initialize response (median)", f"{median(ours):.0f} ms",
            f"<= {INIT_TARGET_MS:.0f} ms", median(ours) <= INIT_TARGET_MS, measures=INIT_MEASURES),
        Row("`logomesh lsp` spawn to initialize response (p95)", f"{percentile(ours, 0.95):.0f} ms",
            measures=INIT_MEASURES),
        Row("bare pygls 2 server, same measure (median)", f"{median(bare):.0f} ms",
            measures=INIT_MEASURES),
        Row("`import lsprotocol.types` process (median)", f"{median(lsprotocol):.0f} ms",
            measures=INIT_MEASURES),
    ]  # fmt: skip


def _initialize_frame(root: Path) -> bytes:
    body = json.dumps({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}},
    }).encode()  # fmt: skip
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _time_initialize(argv: list[str], workspace: Workspace, env: dict[str, str]) -> float:
    frame = _initialize_frame(workspace.root)
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        cwd=workspace.root, env=env,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(frame)
    proc.stdin.flush()
    length = 0
    while (line := proc.stdout.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    answer = json.loads(proc.stdout.read(length))
    elapsed = (time.perf_counter() - started) * 1000
    proc.stdin.close()
    proc.wait(timeout=30)
    if "result" not in answer:
        raise RuntimeError(f"{argv[0]} answered initialize with {answer}")
    return elapsed


def _time_process(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    return (time.perf_counter() - started) * 1000


# -- a session -----------------------------------------------------------------------------


async def _session_rows(workspace: Workspace, quick: bool) -> list[Row]:
    client = await _connect(workspace)
    try:
        for _ in range(3):  # the first creates and migrates the database
            await _execute(client, "logomesh.git.status")
        rows = await _command_rows(client, 10 if quick else 100)
        rows += await _code_action_rows(client, workspace, 10 if quick else 100)
        rows += await _lag_rows(client, quick)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return rows


async def _connect(workspace: Workspace) -> Any:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("logomesh-bench", "1")
    for method, answer in (
        (types.WINDOW_WORK_DONE_PROGRESS_CREATE, None),
        (types.CLIENT_REGISTER_CAPABILITY, None),
        (types.CLIENT_UNREGISTER_CAPABILITY, None),
        (types.WINDOW_SHOW_MESSAGE_REQUEST, None),
    ):
        client.feature(method)(lambda _params, answer=answer: answer)
    for method in (types.PROGRESS, types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE,
                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):  # fmt: skip
        client.feature(method)(lambda _params: None)
    env = {**workspace.process_environ(), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    await client.start_io(str(LOGOMESH), "lsp", env=env, cwd=str(workspace.root))
    capabilities = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            execute_command=types.ExecuteCommandClientCapabilities(dynamic_registration=True)
        ),
    )
    folder = types.WorkspaceFolder(uri=workspace.root.as_uri(), name="bench")
    client.initialize_result = await client.initialize_async(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=folder.uri,
            workspace_folders=[folder],
            initialization_options={"showResults": False, "diagnostics": False},
        )
    )
    client.initialized(types.InitializedParams())
    return client


async def _execute(client: Any, command: str, arguments: dict[str, Any] | None = None) -> Any:
    from lsprotocol import types

    params = types.ExecuteCommandParams(command=command, arguments=[arguments or {}])
    return await client.workspace_execute_command_async(params)


async def _command_rows(client: Any, count: int) -> list[Row]:
    overheads = []
    for _ in range(count):
        started = time.perf_counter()
        result = await _execute(client, "logomesh.git.status")
        overheads.append((time.perf_counter() - started) * 1000 - result["duration_ms"])
    p95 = percentile(overheads, 0.95)
    return [
        Row("executeCommand of a read DevShell command, beyond its own time (p50)",
            f"{median(overheads):.1f} ms", measures=COMMAND_MEASURES),
        Row("executeCommand of a read DevShell command, beyond its own time (p95)",
            f"{p95:.1f} ms", f"< {COMMAND_OVERHEAD_P95_MS:.0f} ms", p95 < COMMAND_OVERHEAD_P95_MS,
            measures=COMMAND_MEASURES),
    ]  # fmt: skip


async def _code_action_rows(client: Any, workspace: Workspace, count: int) -> list[Row]:
    from lsprotocol import types

    metric = "textDocument/codeAction, list only (p95)"
    if not client.initialize_result.capabilities.code_action_provider:
        return [Row(metric, "not built", f"< {CODE_ACTION_P95_MS:.0f} ms", False,
                    measures=CODE_ACTION_MEASURES)]  # fmt: skip
    uri = (workspace.root / "module.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=SOURCE
            )
        )
    )
    selection = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=40, character=0)
    )
    diagnostic = types.Diagnostic(
        range=selection, message="F401 `os` imported but unused", source="ruff"
    )
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=selection,
        context=types.CodeActionContext(diagnostics=[diagnostic]),
    )  # fmt: skip
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await client.text_document_code_action_async(params)
        times.append((time.perf_counter() - started) * 1000)
    p95 = percentile(times, 0.95)
    return [
        Row("textDocument/codeAction, list only (p50)", f"{median(times):.1f} ms",
            measures=CODE_ACTION_MEASURES),
        Row(metric, f"{p95:.1f} ms", f"< {CODE_ACTION_P95_MS:.0f} ms", p95 < CODE_ACTION_P95_MS,
            measures=CODE_ACTION_MEASURES),
    ]  # fmt: skip


async def _probe(client: Any) -> float:
    """One round trip of a request the server answers on its loop, in milliseconds."""
    from pygls.exceptions import JsonRpcException

    started = time.perf_counter()
    with contextlib.suppress(JsonRpcException):
        await _execute(client, "logomesh.run")
    return (time.perf_counter() - started) * 1000


async def _probes_during(client: Any, work: asyncio.Future[Any], limit_s: float) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + limit_s
    while not work.done() and time.perf_counter() < deadline:
        samples.append(await _probe(client))
        await asyncio.sleep(0.02)
    return samples


async def _lag_rows(client: Any, quick: bool) -> list[Row]:
    idle = [await _probe(client) for _ in range(50)]
    baseline = median(idle)
    limit = 6.0 if quick else 15.0
    rows = [Row("round trip of the probe, server idle (median)", f"{baseline:.1f} ms",
                measures=LAG_MEASURES)]  # fmt: skip
    for label, command, arguments in (
        ("a long DevShell command", "logomesh.chatty", {}),
        ("the first local model call (loads it)", "logomesh.llm.ask",
         {"prompt": "Write a long story about a lighthouse.", "max_tokens": 200}),
        ("a local model call", "logomesh.llm.ask",
         {"prompt": "Write a long story about a lighthouse.", "max_tokens": 200}),
    ):  # fmt: skip
        work = asyncio.ensure_future(_execute(client, command, arguments))
        await asyncio.sleep(0.3)  # under way: the child started, or the model is loading
        samples = [max(0.0, s - baseline) for s in await _probes_during(client, work, limit)]
        with contextlib.suppress(Exception):
            await work  # the next measure starts with this one over (the model loaded)
        if len(samples) < 5:
            rows.append(Row(f"loop lag during {label} (p99)", "too few samples", error=True))
            continue
        p99 = percentile(samples, 0.99)
        rows.append(
            Row(f"loop lag during {label} (p99, {len(samples)} probes)", f"{p99:.1f} ms",
                f"< {LAG_P99_MS:.0f} ms", p99 < LAG_P99_MS, measures=LAG_MEASURES)
        )  # fmt: skip
    return rows
