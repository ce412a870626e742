"""TOML syntax errors in logomesh.toml, the user config and plugin manifests: each names the
file, the line and the column, shows the line, and says what to write instead of tomllib's
parser-eye reason ("Cannot declare ('audit',) twice" for a header missing its `]`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.config import LoadedSettings
from logomesh.errors import ConfigError, PluginManifestError
from logomesh.plugins.manifest import load_manifest

# (file text, the line and column named, what the message says is wrong)
MALFORMED = {
    "header without ] before an [audit] already declared": (
        "[audit]\nwriter_batch = 6\n\n[audit\ncheckpoint_every = 5\n",
        "line 4, column 7",
        "the table header `[audit` is missing `]` (write `[audit]`). Line 4 reads: '[audit'.",
    ),
    "header without ]": (
        "[audit\ncheckpoint_every = 5\n",
        "line 1, column 7",
        "the table header `[audit` is missing `]` (write `[audit]`)",
    ),
    "header without ] at the end of the file": (
        'mode = "local"\n[database',
        "line 2, column 10",
        "the table header `[database` is missing `]` (write `[database]`)",
    ),
    "header without ] before a comment": (
        "[audit   # the trail\nwriter_batch = 6\n",
        "line 1, column 7",
        "the table header `[audit` is missing `]` (write `[audit]`)",
    ),
    "array-of-tables header without ]]": (
        '[[llm.models]\nname = "x"\n',
        "line 1, column 14",
        "the table header `[[llm.models]` is missing `]]` (write `[[llm.models]]`)",
    ),
    "a table declared twice": (
        "[audit]\nwriter_batch = 6\n[audit]\ncheckpoint_every = 5\n",
        "line 3, column 7",
        "the table `[audit]` is declared twice (first on line 1); put its keys in one `[audit]`",
    ),
    "a key set twice": (
        'mode = "local"\nmode = "team"\n',
        "line 2, column 14",
        "the key `mode` is set twice in the same table; keep one of them",
    ),
    "a bare word as a value": (
        "mode = local\n",
        "line 1, column 8",
        '`local` is not a TOML value; quote text ("local")',
    ),
    "a string not closed on its line": (
        'mode = "local\n',
        "line 1, column 14",
        "a string is not closed before the end of the line; end it with its quote",
    ),
    "a multi-line string never closed": (
        '[database]\nurl = """sqlite:///x\n',
        "line 2, column 21",
        "a string opened here or above is never closed",
    ),
    "an array never closed": (
        "[devshell]\nx = [1, 2\n",
        "line 2, column 10",
        "an array opened with `[` here or above has no closing `]`",
    ),
    "an inline table never closed": (
        "x = {a = 1\n",
        "line 1, column 11",
        "an inline table opened with `{` here or above has no closing `}`",
    ),
    "a table name with a space": (
        "[audit trail]\n",
        "line 1, column 8",
        '`[audit trail]` is not a table name: quote a name with spaces (`["audit trail"]`)',
    ),
    "a key without =": (
        "[audit]\nwriter_batch\n",
        "line 2, column 13",
        "expected '=' after a key in a key/value pair",
    ),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_workspace_file_names_file_line_column_and_the_fix(
    load: Callable[..., LoadedSettings], workspace: Path, shape: str
) -> None:
    text, where, what = MALFORMED[shape]
    path = workspace / "logomesh.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load()
    message = caught.value.user_message
    assert caught.value.code == "config.parse"
    assert message.startswith(f"{path}, {where}: not valid TOML: "), message
    assert what in message, message
    assert "Cannot declare" not in message and "(at line" not in message
    assert message.endswith("Fix it there, or move the file away to use the defaults.")


def test_the_user_config_file_is_explained_the_same_way(
    load: Callable[..., LoadedSettings], test_env: dict[str, str]
) -> None:
    path = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("[audit]\ncheckpoint_every = = 3\n")
    with pytest.raises(ConfigError) as caught:
        load()
    assert caught.value.user_message.startswith(f"{path}, line 2, column 20: not valid TOML: ")
    assert "Line 2 reads: 'checkpoint_every = = 3'." in caught.value.user_message


def test_a_malformed_plugin_manifest_names_its_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "logomesh-plugin.toml"
    path.write_text('name = "p"\nversion = "1.0.0"\n[permissions\nworkspace = "read"\n')
    with pytest.raises(PluginManifestError) as caught:
        load_manifest(path)
    assert caught.value.user_message == (
        f"{path}, line 3, column 13: not valid TOML: the table header `[permissions` is "
        "missing `]` (write `[permissions]`). Line 3 reads: '[permissions'. Fix it there."
    )
