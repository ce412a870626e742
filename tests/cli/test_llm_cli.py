"""``logomesh llm ...`` as a person runs it: the real console script and the real models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Run

CliFn = Callable[..., Run]
# The assembled GGUF and the compiled MiniLM live in the user's cache; share them.
SHARED_CACHE = {"XDG_CACHE_HOME": str(Path.home() / ".cache")}


def test_llm_list_shows_the_built_in_models_without_loading_them(
    cli: CliFn, workspace: Path, cli_env: dict[str, str]
) -> None:
    # Declared models whose providers live in llama-index subpackages must not import it.
    (workspace / "logomesh.toml").write_text(
        '[[llm.models]]\nname = "served"\nprovider = "openai-compatible"\n'
        'options = { base_url = "http://127.0.0.1:8080/v1", model = "m" }\n\n'
        '[[llm.models]]\nname = "mock"\nprovider = "llama-index"\n'
        'options = { class = "llama_index.core.llms.MockLLM" }\n',
        encoding="utf-8",
    )
    assert cli("trust").code == 0  # a workspace's own model declarations need its trust
    listed = cli("llm", "list", "--json", env=SHARED_CACHE)
    assert listed.code == 0, listed.err
    rows = {row["name"]: row for row in listed.json()["data"]}
    assert rows["served"]["state"] == "ready" and rows["mock"]["state"] == "ready"
    assert rows["gemma-3-270m"]["state"] == "ready"
    assert rows["gemma-3-270m"]["default_for"] == ["chat", "code_actions", "nl"]
    assert rows["all-minilm-l6-v2"]["default_for"] == ["embeddings"]
    probe = (
        "import sys\n"
        "from logomesh.cli.app import app\n"
        "try:\n    app(['llm', 'list'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('llama_index', 'llama_index.core', 'llama_cpp', 'torch',"
        " 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=workspace,
        env={**cli_env, **SHARED_CACHE},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "gemma-3-270m" in proc.stdout
    assert "HEAVY=\n" in proc.stderr or proc.stderr.rstrip().endswith("HEAVY=")


def test_llm_ask_streams_the_local_models_answer(cli: CliFn) -> None:
    asked = cli("llm", "ask", "--temperature", "0", "--max-tokens", "16", "What is git?",
                env=SHARED_CACHE)  # fmt: skip
    assert asked.code == 0, asked.err
    assert asked.out.strip()
    assert "gemma-3-270m" in asked.err and "tokens" in asked.err  # the footer, on stderr
    as_json = cli("llm", "ask", "--json", "--temperature", "0", "--max-tokens", "16",
                  "What is git?", env=SHARED_CACHE)  # fmt: skip
    data = as_json.json()["data"]
    assert data["text"].strip() == asked.out.strip()
    assert data["tokens_out"] > 0 and data["tokens_estimated"] is False


def test_llm_ask_reads_the_prompt_from_stdin(cli: CliFn) -> None:
    asked = cli("llm", "ask", "--json", "--max-tokens", "8", "--temperature", "0", "-",
                stdin="Name one programming language.", env=SHARED_CACHE)  # fmt: skip
    assert asked.code == 0, asked.err
    records = cli("audit", "query", "--action", "llm.call", "--payloads", "--json").json()
    prompts = json.dumps(records["data"])
    assert "Name one programming language." in prompts


def test_llm_ask_with_an_unknown_model_is_an_error_naming_it(cli: CliFn) -> None:
    asked = cli("llm", "ask", "--model", "gpt-17", "hello", env=SHARED_CACHE)
    assert asked.code == 1
    assert "Unknown model 'gpt-17'" in asked.err


def test_llm_test_and_usage(cli: CliFn) -> None:
    tested = cli("llm", "test", "minilm", env=SHARED_CACHE)
    assert tested.code == 0, tested.err
    assert "384 dimensions" in tested.out
    usage = cli("llm", "usage", "--json", env=SHARED_CACHE).json()["data"]
    assert [(row["model"], row["calls"]) for row in usage] == [("all-minilm-l6-v2", 1)]


def test_llm_ask_with_empty_stdin_says_so(cli: CliFn) -> None:
    for stdin in ("", "  \n"):
        asked = cli("llm", "ask", "-", stdin=stdin, env=SHARED_CACHE)
        assert asked.code == 2
        assert "Error: stdin was empty, so there is no prompt to ask." in asked.err
        assert "or give the prompt as an argument" in asked.err
        assert "length" not in asked.err


def test_llm_ask_refuses_a_blank_prompt_with_exit_code_2(cli: CliFn) -> None:
    asked = cli("llm", "ask", "   ", env=SHARED_CACHE)
    assert asked.code == 2
    assert "`prompt`: the prompt is only whitespace" in asked.err.replace("\n", " ")


def test_llm_test_fails_the_built_in_gemma_and_says_what_to_do(cli: CliFn) -> None:
    # The real pre-trained model: it answers in a sentence or repeats the instruction.
    tested = cli("llm", "test", "gemma", "--json", env=SHARED_CACHE)
    assert tested.code == 1
    error = tested.json()["error"]
    assert error["code"] == "llm.unusable_answer"
    message = tested.json()["message"]
    assert "gemma-3-270m answers but does not follow a one-word instruction" in message
    assert "expected the one word 'blue'" in message and " ms in all)" in message
    assert "logomesh llm add llama3 --provider ollama --model llama3.2:3b" in message


def test_llm_add_declares_a_model_that_llm_list_then_shows(cli: CliFn, workspace: Path) -> None:
    assert cli("init").code == 0
    added = cli("llm", "add", "llama3", "--provider", "ollama", "--model", "llama3.2:3b",
                "--default", "chat", env=SHARED_CACHE)  # fmt: skip
    assert added.code == 0, added.err
    assert "Declared llama3 (ollama model llama3.2:3b)" in added.out.replace("\n", " ")
    listed = cli("llm", "list", "--json", env=SHARED_CACHE).json()
    rows = {row["name"]: row for row in listed["data"]}
    assert rows["llama3"]["default_for"] == ["chat"]
    assert "logomesh llm add" not in listed["message"]
    again = cli("llm", "add", "llama3", "--provider", "ollama", "--model", "x", env=SHARED_CACHE)
    assert again.code == 2
    assert "already declares a model named 'llama3'" in again.err.replace("\n", " ")
