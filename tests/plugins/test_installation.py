"""What a mounted server may read of its own software (logomesh/plugins/installation.py):
its program's and scripts' installations, the interpreter of a ``#!`` script included,
never a data folder named in its argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from logomesh.plugins.installation import installations


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_script_run_through_env_grants_its_interpreters_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`npm install` links `.bin/x` to a `#!/usr/bin/env node` script: the node found on
    PATH (here an nvm-like prefix with bin/ and lib/) must be readable, or it cannot start."""
    prefix = tmp_path / "versions" / "node-24"
    executable(prefix / "bin" / "fakenode", "#!/bin/sh\n")
    (prefix / "lib").mkdir()
    script = executable(
        tmp_path / "app" / "node_modules" / "pkg" / "dist" / "index.js",
        "#!/usr/bin/env -S fakenode --flag\n",
    )
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PATH", f"{prefix / 'bin'}:/usr/bin:/bin")
    granted = installations((str(script), str(data)))
    assert str(tmp_path / "app" / "node_modules") in granted
    assert str(prefix) in granted
    assert str(data) not in granted and str(tmp_path) not in granted


def test_a_direct_interpreter_line_is_followed_too(tmp_path: Path) -> None:
    prefix = tmp_path / "py"
    interpreter = executable(prefix / "bin" / "python9", "#!/bin/sh\n")
    (prefix / "lib").mkdir()
    script = executable(tmp_path / "tool" / "server", f"#!{interpreter}\n")
    granted = installations((str(script),))
    assert str(prefix) in granted and str(tmp_path / "tool") in granted
