"""``python wiretap.py LOG PROGRAM ARGS...``: run an MCP server on stdio unchanged, copying
every line that crosses its stdin and stdout, as it is, to LOG (``> `` host to server,
``< `` server to host), so a test sees what was on the wire: a ``notifications/cancelled``
sent, an answer withheld. Standard library only; stderr is the server's own.
"""

import os
import subprocess
import sys
import threading


def pump(source, sink, log, mark, lock):
    for line in iter(source.readline, b""):
        with lock:
            log.write(mark + line.rstrip(b"\n") + b"\n")
            log.flush()
        sink.write(line)
        sink.flush()
    sink.close()


def main():
    # Relative to HOME, the server's own folder (its working directory is the workspace).
    log_path, argv = os.path.join(os.environ["HOME"], sys.argv[1]), sys.argv[2:]
    server = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lock = threading.Lock()
    with open(log_path, "ab") as log:
        inbound = threading.Thread(
            target=pump, args=(sys.stdin.buffer, server.stdin, log, b"> ", lock), daemon=True
        )
        inbound.start()
        pump(server.stdout, sys.stdout.buffer, log, b"< ", lock)
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
