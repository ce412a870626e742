"""code.explain, code.docstring and code.fix through the one door.

Answers are scripted where a test is about reading them (the loopback OpenAI stand-in, a
chat-only model, as a team's own would be); one test asks the real local Gemma, the default
``code_actions`` model, which only completes text.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from tests.llm.fake_openai import FakeOpenAIServer, Fault

ME = Actor(Source.CLI, getpass.getuser())
SECRET = 'password = "hunter2"'
ADD = 'def add(a, b):\n    password = "hunter2"\n    return a + b\n'


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def remote(llm_engine: Callable[..., Engine], server: FakeOpenAIServer) -> Engine:
    """An engine whose code_actions model is a chat-only model at the stand-in."""
    table = {
        "name": "team-coder",
        "provider": "openai-compatible",
        "options": {"base_url": server.base_url, "model": "coder"},
        "timeout_s": 3,
    }
    return llm_engine(models=[table], defaults={"code_actions": "team-coder"},
                      retry={"attempts": 1})  # fmt: skip


def run(engine: Engine, command: str, **arguments: Any) -> CommandResult:
    return run_sync(engine, CommandRequest(command, ME, arguments))


def linked(engine: Engine, result: CommandResult) -> list[Any]:
    return engine.audit.store.query(AuditFilter(correlation_id=result.correlation_id))


def test_explain_with_the_local_model_is_one_linked_llm_call_without_the_secret(
    llm_engine: Callable[..., Engine],
) -> None:
    engine = llm_engine()
    result = run(engine, "code.explain", path="calc.py", text=ADD)
    assert result.ok, result.message
    assert result.data["model"] == "gemma-3-270m" and result.data["explanation"]
    assert "```" not in result.data["explanation"]
    records = linked(engine, result)
    assert sorted(r.action for r in records) == ["code.explain", "llm.call"]
    call = next(r for r in records if r.action == "llm.call")
    assert call.model == "gemma-3-270m" and call.actor == getpass.getuser()
    prompt = engine.audit.store.payloads([call.prompt_hash])[call.prompt_hash].decode()
    assert "def add(a, b):" in prompt and "hunter2" not in prompt
    command = next(r for r in records if r.action == "code.explain")
    assert "hunter2" not in str(command.arguments)


def test_a_chat_model_gets_the_instruction_with_the_secret_redacted(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "It adds two numbers.\n\n```python\ndef add(a, b): ...\n```"
    result = run(remote, "code.explain", path="calc.py", text=ADD)
    assert result.ok, result.message
    assert result.message == "It adds two numbers."
    sent = str(server.requests[-1]["messages"])
    assert "def add(a, b):" in sent and "hunter2" not in sent


def test_docstring_is_an_insertion_after_the_header_at_the_body_indent(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "Add two numbers and return the sum."
    code = "    def add(\n        a, b\n    ):\n        return a + b\n"
    result = run(remote, "code.docstring", path="calc.py", text=code,
                 range={"start_line": 10, "end_line": 13})  # fmt: skip
    assert result.ok, result.message
    assert result.data["insert_line"] == 3
    assert result.data["insert_text"] == '        """Add two numbers and return the sum."""\n'


def test_docstring_for_a_documented_function_says_so_without_a_model_call(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    result = run(remote, "code.docstring", path="calc.py",
                 text='def add(a, b):\n    """Add."""\n    return a + b\n')  # fmt: skip
    assert result.error is not None and result.error.code == "code.documented"
    assert server.calls == 0


def test_docstring_in_typescript_is_a_comment_above(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "Adds two numbers."
    result = run(remote, "code.docstring", path="calc.ts",
                 text="  function add(a: number, b: number) {\n    return a + b;\n  }")  # fmt: skip
    assert result.ok, result.message
    assert result.data["insert_line"] == 0
    assert result.data["insert_text"] == "  /**\n   * Adds two numbers.\n   */\n"


def test_a_fix_is_the_code_in_the_answer_at_the_original_indent(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "Here:\n```python\nreturn a + b\n```\nDone."
    result = run(
        remote, "code.fix", path="calc.py", text="    return a + c\n",
        diagnostic="F821 undefined name 'c'", range={"start_line": 2, "end_line": 2},
    )  # fmt: skip
    assert result.ok, result.message
    assert result.data["replacement"] == "    return a + b\n"


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ("```python\npassword = [REDACTED]\nreturn a + c\n```", "changes nothing"),
        ("I cannot help with that.", "not valid Python"),
        ("```python\nreturn (a +\n```", "not valid Python"),
        ("", "no code"),
        ('```python\npassword = "[REDACTED]"\nreturn a\n```', "[REDACTED]"),
    ],
)
def test_an_answer_that_is_no_fix_is_refused_in_words(
    remote: Engine, server: FakeOpenAIServer, reply: str, says: str
) -> None:
    server.reply = reply
    code = f"    {SECRET}\n    return a + c\n"
    result = run(remote, "code.fix", path="calc.py", text=code, diagnostic="F821 undefined 'c'")
    assert not result.ok and result.error is not None
    assert result.error.code == "llm.unusable_answer", result.error
    assert says in result.error.message
    assert any(r.action == "llm.call" for r in linked(remote, result))


def test_a_rewrite_that_keeps_little_of_the_lines_is_no_fix(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "```python\na = 10\nc = 20\nprint(a - c)\n```"  # Gemma's, once
    result = run(remote, "code.fix", path="calc.py", text="    return a - c\n", diagnostic="F821")
    assert result.error is not None and "rewrites these lines" in result.error.message


def test_a_docstring_keeps_its_own_indentation_under_the_first_line(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.reply = "Add a and b.\n\n    Args:\n        a: a number.\n"
    result = run(remote, "code.docstring", path="calc.py", text=ADD)
    assert result.ok, result.message
    assert result.data["insert_text"] == (
        '    """Add a and b.\n\n    Args:\n        a: a number.\n    """\n'
    )


def test_an_unknown_model_is_named_with_how_to_fix_it(
    llm_engine: Callable[..., Engine],
) -> None:
    engine = llm_engine(defaults={"code_actions": "no-such-model"})
    result = run(engine, "code.explain", path="calc.py", text=ADD)
    assert result.error is not None and result.error.code == "llm.unknown_model"
    assert "no-such-model" in result.error.message and "logomesh llm list" in result.error.message


def test_a_model_whose_file_is_missing_is_not_installed_and_says_how_to_fix_it(
    llm_engine: Callable[..., Engine],
) -> None:
    table = {"name": "local-coder", "provider": "llama-cpp",
             "options": {"path": "/nowhere/coder.gguf"}}  # fmt: skip
    engine = llm_engine(models=[table], defaults={"code_actions": "local-coder"})
    result = run(engine, "code.explain", path="calc.py", text=ADD)
    assert result.error is not None and result.error.code == "llm.unavailable"
    message = result.error.message
    assert "local-coder is not installed" in message and "/nowhere/coder.gguf" in message
    assert "logomesh llm list" in message and "models.code_actions" in message


def test_a_model_an_untrusted_workspace_declares_is_named_as_left_out(
    workspace: Path, test_env: dict[str, str], model_pool: Any
) -> None:
    """The editor has not trusted the folder (Restricted Mode): its [[llm.models]] are left
    out, its [llm.defaults] still name them; the error says why, not "declare it"."""
    (workspace / "logomesh.toml").write_text(
        '[[llm.models]]\nname = "team-coder"\nprovider = "openai-compatible"\n'
        'options = { base_url = "http://127.0.0.1:9/v1", model = "coder" }\n\n'
        '[llm.defaults]\ncode_actions = "team-coder"\n'
    )
    loaded = load_settings(workspace, environ=test_env, trusted=False)
    engine = build_engine(loaded.settings, provenance=loaded.provenance, models=model_pool)
    try:
        result = run(engine, "code.explain", path="calc.py", text=ADD)
    finally:
        engine.close()
    assert result.error is not None and result.error.code == "llm.unknown_model"
    message = result.error.message
    assert "team-coder" in message and "not trusted" in message
    assert "Manage Workspace Trust" in message and "models.code_actions" in message


def test_a_model_that_does_not_answer_times_out_with_a_clear_error(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    server.script(Fault("slow", delay_s=10))
    result = run(remote, "code.explain", path="calc.py", text=ADD)
    assert result.error is not None and result.error.code == "llm.timeout"
    assert "team-coder did not answer within 3 s" in result.error.message


def test_too_much_code_for_a_fix_is_refused_before_any_model_call(
    remote: Engine, server: FakeOpenAIServer
) -> None:
    result = run(remote, "code.fix", path="calc.py", text="x = 1\n" * 2000, diagnostic="E1")
    assert result.error is not None and result.error.code == "command.invalid_arguments"
    assert "send only the lines the diagnostic is on" in result.error.message
    assert server.calls == 0


def test_a_range_backwards_is_named_with_its_field(remote: Engine) -> None:
    result = run(remote, "code.explain", path="calc.py", text=ADD,
                 range={"start_line": 9, "end_line": 3})  # fmt: skip
    assert result.error is not None and result.error.code == "command.invalid_arguments"
    assert "range" in result.error.message and "end_line 3 comes before start_line 9" in (
        result.error.message
    )
