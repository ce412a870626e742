"""``python -m benchmarks [--quick]``: run every benchmark and print one table.

A missed target is reported as FAIL and still exits 0 (the figures are the product); a
benchmark that could not run at all is reported as ERROR and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from benchmarks import (
    approval_round_trip,
    audit_append,
    cli_commands,
    cli_startup,
    concurrent_writers,
    devshell_overhead,
    discord_bot,
    execute_overhead,
    llm_answers,
    llm_local,
    llm_overhead,
    lsp,
    mcp_servers,
    nl_interpret,
    pipelines,
    plugins,
    postgres_search,
    postgres_store,
    semantic_search,
    server_loop,
    slack_bot,
    vscode_extension,
    workers,
)
from benchmarks.table import Row, describe, render

# What the rows of a benchmark measure when a row does not say so itself.
NL_MEASURES = (
    "Accuracy: the share of the labelled requests in tests/data/nl_requests.jsonl that "
    "`interpreter.interpret` maps to the labelled command (or to no match); warm latency: "
    "seconds of one `interpret` call, model loaded; first use: a fresh process from building "
    "the engine to its first proposal."
)
BENCHMARKS: tuple[tuple[str, Callable[[bool], list[Row]], str], ...] = (
    ("audit append", audit_append.run, ""),
    ("Engine.execute overhead", execute_overhead.run, ""),
    ("a server's loop under load", server_loop.run, ""),
    ("concurrent writers", concurrent_writers.run, ""),
    ("the audit trail on PostgreSQL", postgres_store.run, ""),
    ("`logomesh --help` start", cli_startup.run, ""),
    ("CLI commands from a shell (cold, warm, simonw/llm)", cli_commands.run, ""),
    ("DevShell overhead", devshell_overhead.run, ""),
    ("semantic audit search", semantic_search.run, ""),
    ("audit search on PostgreSQL (pgvector)", postgres_search.run, ""),
    ("natural-language interpretation", nl_interpret.run, NL_MEASURES),
    ("local LLM (Gemma 3 270M)", llm_local.run, ""),
    ("the built-in model's answers", llm_answers.run, ""),
    ("LLM registry overhead", llm_overhead.run, ""),
    ("plugin host", plugins.run, ""),
    ("mounted MCP servers", mcp_servers.run, ""),
    ("approval round trip", approval_round_trip.run, ""),
    ("task pipelines", pipelines.run, ""),
    ("distributed work (procrastinate)", workers.run, ""),
    ("the language server", lsp.run, ""),
    ("the Slack bot", slack_bot.run, ""),
    ("the Discord bot", discord_bot.run, ""),
    ("the VS Code extension (from make e2e)", vscode_extension.run, ""),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smaller counts: a smoke test, not figures to quote"
    )
    options = parser.parse_args(argv)
    rows: list[Row] = []
    for name, benchmark, measures in BENCHMARKS:
        print(f"running {name}...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            rows.extend(describe(benchmark(options.quick), measures))
        except Exception as exc:
            rows.append(Row.failed_to_run(name, exc))
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(render(rows))
    if options.quick:
        print("(--quick: small counts; rerun without it for figures to quote)")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
