"""The built-in model says what it is: blank prompts refused, `llm test` probes whether a
model follows an instruction, `llm list` says what Gemma is good for, `llm add` declares a
stronger model in one step."""

from __future__ import annotations

import getpass
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.config import LoadedSettings, load_settings
from logomesh.engine import Engine
from logomesh.llm.commands import PROBE_INSTRUCTION, follows_probe
from tests.llm.fake_openai import FakeOpenAIServer

ME = Actor(Source.CLI, getpass.getuser())


def run(engine: Engine, command: str, **arguments: Any) -> CommandResult:
    return run_sync(engine, CommandRequest(command, ME, arguments))


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="Blue.") as srv:
        yield srv


def served(server: FakeOpenAIServer) -> dict[str, Any]:
    options = {"base_url": server.base_url, "model": "fake-model", "api_key": "x"}
    return {"name": "served", "provider": "openai-compatible", "options": options}


@pytest.mark.parametrize("blank", ["", "   ", "\n\t \n"])
def test_a_blank_prompt_is_refused_naming_the_argument_and_calls_no_model(
    llm_engine: Callable[..., Engine], blank: str
) -> None:
    engine = llm_engine()
    result = run(engine, "llm.ask", prompt=blank)
    assert not result.ok and result.error is not None
    assert result.error.code == "command.invalid_arguments"
    assert "`prompt`" in result.message
    if blank:
        assert "only whitespace; give the question as text" in result.message
    assert engine.audit.store.query(AuditFilter(action="llm.call")) == []


@pytest.mark.parametrize(
    ("reply", "follows"),
    [("Blue", True), ("blue.", True), (' "Blue"\n', True), ("The sky is blue.", False),
     (PROBE_INSTRUCTION, False), ("", False), ("Blueish", False)],
)  # fmt: skip
def test_only_the_bare_word_follows_the_probe(reply: str, follows: bool) -> None:
    assert follows_probe(reply) is follows


def test_llm_test_passes_a_served_model_that_follows_the_instruction(
    llm_engine: Callable[..., Engine], server: FakeOpenAIServer
) -> None:
    engine = llm_engine(models=[served(server)])
    result = run(engine, "llm.test", model="served")
    assert result.ok, result.message
    assert result.message.startswith("served answers and follows instructions: first token ")
    assert "reply 'Blue.'" in result.message
    [request] = server.requests
    assert request["messages"][-1]["content"] == PROBE_INSTRUCTION
    assert request["temperature"] == 0


def test_llm_test_fails_a_served_model_that_answers_in_a_sentence(
    llm_engine: Callable[..., Engine], server: FakeOpenAIServer
) -> None:
    server.reply = "The colour of the sky is blue."
    engine = llm_engine(models=[served(server)])
    result = run(engine, "llm.test", model="served")
    assert not result.ok and result.error is not None
    assert result.error.code == "llm.unusable_answer"
    assert "served answers but does not follow a one-word instruction" in result.message
    assert f"asked {PROBE_INSTRUCTION!r}" in result.message
    assert "expected the one word 'blue', got 'The colour of the sky is blue.'" in result.message
    assert "logomesh llm add" in result.message


def test_llm_list_says_what_the_built_in_model_is_good_for_and_how_to_do_better(
    llm_engine: Callable[..., Engine], server: FakeOpenAIServer
) -> None:
    result = run(llm_engine(), "llm.list")
    assert result.ok
    rows = {row["name"]: row for row in result.data}
    assert "offline smoke tests and short completions" in rows["gemma-3-270m"]["good_for"]
    assert "not instruction-tuned" in rows["gemma-3-270m"]["good_for"]
    assert rows["all-minilm-l6-v2"]["good_for"] == ""
    assert "gemma-3-270m is good for offline smoke tests" in result.message
    assert "logomesh llm add llama3 --provider ollama --model llama3.2:3b" in result.message
    # Once a declared model answers chat, the hint has done its work.
    declared = llm_engine(models=[served(server)], defaults={"chat": "served"})
    assert "logomesh llm add" not in run(declared, "llm.list").message


# -- llm add -------------------------------------------------------------------------------


def test_llm_add_appends_a_model_the_next_engine_uses_and_keeps_trust(
    workspace: Path,
    load: Callable[..., LoadedSettings],
    engine: Engine,
    test_env: dict[str, str],
) -> None:
    config_file = workspace / "logomesh.toml"
    config_file.write_text('# our settings\nmode = "local"\n\n[audit]\n', encoding="utf-8")
    load()  # trusted as it is now
    result = run(engine, "llm.add", name="llama3", provider="ollama", model="llama3.2:3b",
                 default=["chat", "nl"])  # fmt: skip
    assert result.ok, result.message
    assert "Declared llama3 (ollama model llama3.2:3b)" in result.message
    assert "default for chat, nl" in result.message
    assert "stays trusted" in result.message and "logomesh llm test llama3" in result.message
    text = config_file.read_text(encoding="utf-8")
    assert text.startswith('# our settings\nmode = "local"\n\n[audit]\n')
    parsed = tomllib.loads(text)
    assert parsed["llm"]["models"] == [
        {"name": "llama3", "provider": "ollama", "options": {"model": "llama3.2:3b"}}
    ]
    after = load_settings(workspace, None, environ=test_env)  # trust not renewed by the test
    assert after.settings.workspace_trusted
    assert after.settings.llm.defaults.chat == "llama3" == after.settings.llm.defaults.nl
    assert [m.name for m in after.settings.llm.models] == ["llama3"]


def test_llm_add_sets_an_existing_defaults_table_and_an_untrusted_workspace_stays_untrusted(
    workspace: Path, engine: Engine, test_env: dict[str, str]
) -> None:
    config_file = workspace / "logomesh.toml"
    config_file.write_text(
        '[llm.defaults]\nchat = "gemma-3-270m"  # for now\nembeddings = "all-minilm-l6-v2"\n',
        encoding="utf-8",
    )  # written after the engine was trusted: this content is not
    result = run(engine, "llm.add", name="vllm", provider="openai-compatible",
                 model="qwen2.5-7b", base_url="http://127.0.0.1:8000/v1",
                 api_key_env="VLLM_KEY", default=["chat"])  # fmt: skip
    assert result.ok, result.message
    assert "not trusted, so its [[llm.models]] stay off" in result.message
    assert "run `logomesh trust`" in result.message
    parsed = tomllib.loads(config_file.read_text(encoding="utf-8"))
    assert parsed["llm"]["defaults"] == {"chat": "vllm", "embeddings": "all-minilm-l6-v2"}
    assert parsed["llm"]["models"][0]["options"] == {
        "model": "qwen2.5-7b", "base_url": "http://127.0.0.1:8000/v1", "api_key_env": "VLLM_KEY"
    }  # fmt: skip
    assert not load_settings(workspace, None, environ=test_env).settings.workspace_trusted


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"name": "llama3", "provider": "ollama", "model": "other"},
         "already declares a model named 'llama3'. Pick another name"),
        ({"name": "g", "provider": "llama-cpp", "model": "x"},
         "`provider`: llm add declares ollama or openai-compatible models (got llama-cpp)"),
        ({"name": "o", "provider": "ollama", "model": "x", "api_key_env": "K"},
         "`api_key_env`: only openai-compatible models take an API key"),
        ({"name": "bad name", "provider": "ollama", "model": "x"}, "`name`: String should match"),
        ({"name": "o", "provider": "olama", "model": "x"}, "`provider`: Input should be"),
        ({"name": "o", "provider": "ollama", "model": "x", "default": ["chatty"]}, "`default.0`"),
    ],
)  # fmt: skip
def test_llm_add_refuses_bad_declarations_and_leaves_the_file_alone(
    workspace: Path, engine: Engine, arguments: dict[str, Any], says: str
) -> None:
    config_file = workspace / "logomesh.toml"
    before = '[[llm.models]]\nname = "llama3"\nprovider = "ollama"\noptions = { model = "m" }\n'
    config_file.write_text(before, encoding="utf-8")
    result = run(engine, "llm.add", **arguments)
    assert not result.ok and result.error is not None
    assert result.error.code == "command.invalid_arguments"
    assert says in result.message
    assert config_file.read_text(encoding="utf-8") == before


def test_llm_add_refuses_a_file_that_is_not_toml(workspace: Path, engine: Engine) -> None:
    (workspace / "logomesh.toml").write_text("[audit\n", encoding="utf-8")
    result = run(engine, "llm.add", name="o", provider="ollama", model="x")
    assert not result.ok and result.error is not None
    assert result.error.code == "config.invalid"
    assert "logomesh.toml is not valid TOML" in result.message and "fix it first" in result.message
