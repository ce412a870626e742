"""``logomesh lsp`` and ``python -m lsp_server``: start the language server.

Parsed with argparse, not typer: ``logomesh lsp`` is dispatched here before the CLI's
typer app is imported (``logomesh.cli.app.main``), because an editor waits for the
``initialize`` answer and typer alone costs a third of that budget.
"""

from __future__ import annotations

import argparse
import logging
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="logomesh lsp",
        description="Run the LogoMesh language server (stdio unless --tcp is given).",
    )
    parser.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="listen on a TCP socket instead of stdio (for debugging), e.g. 127.0.0.1:2087",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="what the server logs on stderr (default: WARNING)",
    )
    return parser.parse_args(argv)


def host_and_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(
            f"logomesh lsp: --tcp wants HOST:PORT (for example 127.0.0.1:2087), got {value!r}"
        )
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tcp = host_and_port(args.tcp) if args.tcp else None
    # stderr only: on stdio, stdout carries the protocol and nothing else may write there.
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.log_level != "DEBUG":
        # pygls logs every error response with a traceback, a mistyped argument included;
        # the client gets the error, and real crashes are logged by lsp_server.convert.
        logging.getLogger("pygls.protocol.json_rpc").setLevel(logging.CRITICAL)
    from lsp_server.server import build_server, serve

    return serve(build_server(), tcp=tcp)


if __name__ == "__main__":
    raise SystemExit(main())
