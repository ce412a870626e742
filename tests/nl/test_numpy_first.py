"""Model-loading threads start only once numpy is fully imported.

Two threads importing numpy at once (a model load through torch, a request's own ``import
numpy``) can get a half-initialised module from CPython's import-lock cycle breaking; it
happened in the editor's *Do...* with the embedder warming up. The check runs in a fresh
interpreter, so nothing in this test process has imported numpy for it.
"""

from __future__ import annotations

import subprocess
import sys

# Every thread started records whether numpy was complete in sys.modules at that moment.
PROBE = """
import sys, threading
seen = []
original = threading.Thread.start
def start(self):
    module = sys.modules.get("numpy")
    seen.append((self.name, module is not None and hasattr(module, "ndarray")))
    original(self)
threading.Thread.start = start
{code}
print(seen)
assert seen and all(ready for _, ready in seen), seen
"""

# Both warm-ups in one interpreter: each start is recorded before its thread runs, and the
# (failing) model load they wait for costs seconds of torch imports, once.
STARTS = (
    "from pathlib import Path\n"
    "from logomesh.commands.registry import CommandRegistry\n"
    "from logomesh.nl.embedder import Embedder\n"
    "from logomesh.nl.interpreter import Interpreter\n"
    "i = Interpreter(CommandRegistry(), Embedder(model_path='/nonexistent'), Path('.'))\n"
    "i.warm_up_in_background()\n"
    "e = Embedder(model_path='/nonexistent'); e.warm_up()\n"
    "i.close(); e.close()"
)


def test_model_threads_start_after_numpy_is_imported() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=STARTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nl-warm-up" in done.stdout and "nl-model-load" in done.stdout
