"""``logomesh llm ...``: list the models, ask one (streamed), check one, declare one, sum usage."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from logomesh.cli.session import (
    JsonFlag,
    execute,
    exit_code_for,
    fail,
    run_quietly,
    state_of,
)

app = typer.Typer(help="Language and embedding models.", no_args_is_help=True)
Opt = typer.Option


@app.command("list")
def list_models(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Show every model, its provider, capabilities and state (loads nothing)."""
    execute(ctx, "llm.list", json_output=json_output)


@app.command()
def ask(
    ctx: typer.Context,
    prompt: Annotated[list[str], typer.Argument(help="The question; `-` reads it from stdin.")],
    model: Annotated[str | None, Opt("--model", "-m", help="Model name or alias.")] = None,
    system: Annotated[str | None, Opt(help="A system instruction.")] = None,
    max_tokens: Annotated[int | None, Opt("--max-tokens")] = None,
    temperature: Annotated[float | None, Opt()] = None,
    seed: Annotated[int | None, Opt()] = None,
    json_output: JsonFlag = False,
) -> None:
    """Ask a model; the answer streams as it is generated."""
    if prompt == ["-"]:
        text = sys.stdin.read()
        if not text.strip():
            fail(
                "stdin was empty, so there is no prompt to ask. Pipe text in "
                '(`git diff | logomesh llm ask --system "Review this diff" -`) or give the '
                'prompt as an argument (`logomesh llm ask "what does git rebase do?"`).',
                "command.invalid_arguments",
            )
    else:
        text = " ".join(prompt)
    arguments: dict[str, Any] = {"prompt": text}
    for key, value in (
        ("model", model),
        ("system", system),
        ("max_tokens", max_tokens),
        ("temperature", temperature),
        ("seed", seed),
    ):
        if value is not None:
            arguments[key] = value
    if json_output:
        execute(ctx, "llm.ask", arguments, json_output=True)
        return
    _ask_streaming(ctx, arguments)


def _ask_streaming(ctx: typer.Context, arguments: dict[str, Any]) -> None:
    from logomesh.cli.render import console, render_result
    from logomesh.events import CommandOutputDelta

    engine = state_of(ctx).engine()
    streamed: list[str] = []

    def show(event: CommandOutputDelta) -> None:
        # Models often open with a space or a newline; the terminal need not show it.
        shown = event.text if streamed else event.text.lstrip()
        streamed.append(event.text)
        sys.stdout.write(shown)
        sys.stdout.flush()

    unsubscribe = engine.events.subscribe(CommandOutputDelta, show)
    try:
        result = run_quietly(ctx, "llm.ask", arguments)
    finally:
        unsubscribe()
    if streamed:
        sys.stdout.write("\n")
    if not result.ok:
        render_result(result)
        raise typer.Exit(exit_code_for(result))
    data = result.data or {}
    first = data.get("first_token_ms")
    console(stderr=True).print(
        f"[dim]{data.get('model')} · {data.get('tokens_in')} -> {data.get('tokens_out')} tokens"
        f" · {data.get('latency_ms', 0):.0f} ms"
        + (f" (first token {first:.0f} ms)" if first is not None else "")
        + "[/]"
    )


@app.command("test")
def test_model(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name or alias.")],
    json_output: JsonFlag = False,
) -> None:
    """Health check: does it follow a one-word instruction (or embed a word)? Timed."""
    execute(ctx, "llm.test", {"model": model}, json_output=json_output)


@app.command("add")
def add_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The name LogoMesh will call it by.")],
    provider: Annotated[str, Opt(help="ollama or openai-compatible.")],
    model: Annotated[str, Opt("--model", "-m", help="The provider's model id.")],
    base_url: Annotated[
        str | None, Opt("--base-url", help="The server (default: the provider's).")
    ] = None,
    api_key_env: Annotated[
        str | None, Opt("--api-key-env", help="openai-compatible: the API key's variable.")
    ] = None,
    default: Annotated[
        list[str] | None,
        Opt("--default", help="Make it the default for a purpose (chat, code_actions, nl)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Declare a model in this workspace's logomesh.toml ([[llm.models]]), in one step."""
    arguments: dict[str, Any] = {"name": name, "provider": provider, "model": model}
    for key, value in (("base_url", base_url), ("api_key_env", api_key_env)):
        if value is not None:
            arguments[key] = value
    if default:
        arguments["default"] = default
    execute(ctx, "llm.add", arguments, json_output=json_output)


@app.command()
def usage(
    ctx: typer.Context,
    since: Annotated[str, Opt(help="An age (7d, 12h) or an ISO date.")] = "30d",
    model: Annotated[str | None, Opt("--model", "-m")] = None,
    actor: Annotated[str | None, Opt()] = None,
    json_output: JsonFlag = False,
) -> None:
    """Calls, tokens, cost and latency per model, user and day."""
    arguments: dict[str, Any] = {"since": since}
    if model:
        arguments["model"] = model
    if actor:
        arguments["actor"] = actor
    execute(ctx, "llm.usage", arguments, json_output=json_output)
