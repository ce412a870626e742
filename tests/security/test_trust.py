"""Workspace trust, with real files, real plugin processes and the real CLI.

A hostile workspace (a cloned repository) carries a plugin whose program writes a marker
file when it starts, an ``[[plugins.mcp]]`` command line that does the same, and a
``[[devshell.commands]]`` entry. Until the user trusts it, none of them is registered or
started, whatever start-up path runs; once trusted, all are (the same markers prove that
the programs would have run); a change to any declaring file asks again.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.composition import build_engine
from logomesh.config import LoadedSettings, load_settings
from logomesh.engine import Engine
from logomesh.errors import ConfigError
from logomesh.trust import TRUST_FILE
from tests.cli.conftest import Run
from tests.plugins.conftest import run_command

CliFn = Callable[..., Run]
PY = sys.executable
# Quick failures: the hostile programs exit at once instead of speaking the protocol.
FAST = {"plugins": {"entry_points": False, "start_timeout_s": 5, "max_restarts": 0}}
KEY = "ab" * 32  # an Ed25519 public key's length in hex

HOSTILE_TOML = f"""\
mode = "local"

[[plugins.mcp]]
name = "evil-mcp"
command = ["{PY}", "-c", "import os; open(os.environ['HOME'] + '/mcp-started', 'w').write('ran')"]
contributes.commands = [{{ name = "evil.mcp", summary = "an MCP tool" }}]

[[devshell.commands]]
name = "evil.run"
summary = "Runs something"
argv = ["{PY}", "-c", "open('devshell-ran', 'w').write('ran')"]
"""

PLUGIN_MAIN = "import pathlib\n(pathlib.Path(__file__).parent / 'started').write_text('ran')\n"
PLUGIN_MANIFEST = """\
name = "evil"
version = "0.1.0"
runtime = "python"
entry = "main.py"

[[contributes.commands]]
name = "evil.hello"
summary = "Says hello"
"""


@pytest.fixture
def hostile(workspace: Path) -> Path:
    (workspace / "logomesh.toml").write_text(HOSTILE_TOML, encoding="utf-8")
    folder = workspace / "plugins" / "evil"
    folder.mkdir(parents=True)
    (folder / "main.py").write_text(PLUGIN_MAIN, encoding="utf-8")
    (folder / "logomesh-plugin.toml").write_text(PLUGIN_MANIFEST, encoding="utf-8")
    return workspace


def markers(workspace: Path) -> list[str]:
    # A mounted MCP server's HOME is its own folder under .logomesh/, not the workspace.
    candidates = ["plugins/evil/started", ".logomesh/mcp/evil-mcp/mcp-started", "devshell-ran"]
    return [name for name in candidates if (workspace / name).exists()]


@pytest.fixture
def load_real(workspace: Path, test_env: dict[str, str]) -> Callable[..., LoadedSettings]:
    """load_settings as an adapter calls it: the trust store decides (no test trust)."""

    def _load(flags: dict[str, Any] | None = None, **kwargs: Any) -> LoadedSettings:
        env = {**test_env, **kwargs.pop("env", {})}
        return load_settings(workspace, flags or FAST, environ=env, **kwargs)

    return _load


@pytest.fixture
def engines() -> Iterator[Callable[[LoadedSettings], Engine]]:
    made: list[Engine] = []

    def _make(loaded: LoadedSettings) -> Engine:
        made.append(build_engine(loaded.settings, provenance=loaded.provenance))
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


def trust_file(test_env: dict[str, str]) -> Path:
    return Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / TRUST_FILE


def test_an_untrusted_workspace_starts_none_of_its_code(
    hostile: Path, load_real: Callable[..., LoadedSettings], engines: Callable[..., Engine]
) -> None:
    loaded = load_real()
    assert loaded.settings.workspace_trusted is False
    assert loaded.settings.plugins.mcp == () and loaded.settings.devshell.commands == ()
    [notice] = loaded.notices
    assert "`logomesh trust`" in notice and "plugins/evil" in notice
    assert "`plugins.mcp`" in notice and "`devshell.commands`" in notice
    assert f"{hostile / 'logomesh.toml'}:3" in notice  # where [[plugins.mcp]] starts

    engine = engines(loaded)
    assert engine.plugins.plugins == {}
    for name in ("evil.hello", "evil.mcp", "evil.run"):
        assert name not in engine.registry
    # Every start-up path an adapter takes: the shell's background start and watch too.
    engine.plugins.start_all()
    engine.plugins.serve_in_background()
    assert run_command(engine, "evil.run").error.code == "command.unknown"  # type: ignore[union-attr]
    status = run_command(engine, "status")
    assert status.ok and status.data["workspace_trusted"] is False
    assert run_command(engine, "commands.list").ok  # built-ins work as usual
    time.sleep(1.0)  # time enough for any process that did start to write its marker
    assert markers(hostile) == []


def test_the_cli_runs_built_ins_and_says_once_how_to_trust(hostile: Path, cli: CliFn) -> None:
    status = cli("status", "--json")
    assert status.code == 0, status.err
    assert status.json()["data"]["workspace_trusted"] is False
    assert status.err.count("logomesh trust") == 1 and "plugins/evil" in status.err
    listed = cli("plugin", "list", "--json")
    assert listed.code == 0 and listed.json()["data"] == []
    assert cli("run", "evil.run").code == 2  # unknown command: it was never registered
    assert cli("run", "evil.hello").code == 2
    shell = cli("shell")  # no terminal: the shell prints the status and leaves
    assert shell.code == 0, shell.err
    assert cli("run", "plugin.stats", "start=true", "--json").code == 0
    rows = {row["key"]: row for row in cli("config", "show", "--json").json()["data"]}
    assert rows["workspace_trusted"]["value"] is False
    assert "never trusted" in rows["workspace_trusted"]["source"]
    time.sleep(1.0)
    assert markers(hostile) == []


def test_after_logomesh_trust_its_code_is_registered_and_starts(
    hostile: Path,
    cli: CliFn,
    load_real: Callable[..., LoadedSettings],
    engines: Callable[..., Engine],
    test_env: dict[str, str],
) -> None:
    trusted = cli("trust", "--json")
    assert trusted.code == 0, trusted.err
    data = trusted.json()["data"]
    assert data["trusted"] is True and data["digest"].startswith("sha256:")
    assert data["files"] == ["logomesh.toml", "plugins/evil/logomesh-plugin.toml"]
    assert "logomesh trust" not in trusted.err  # no notice telling to run what just ran

    loaded = load_real()
    assert loaded.settings.workspace_trusted is True and loaded.notices == ()
    engine = engines(loaded)
    for name in ("evil.hello", "evil.mcp", "evil.run"):
        assert name in engine.registry
    engine.plugins.start_all()  # the programs fail the handshake, after writing markers
    assert run_command(engine, "evil.run").error is None
    assert sorted(markers(hostile)) == [
        ".logomesh/mcp/evil-mcp/mcp-started",
        "devshell-ran",
        "plugins/evil/started",
    ]

    # The decision is in the audit trail: who, which digest, which files.
    trail = cli("audit", "query", "--action", "workspace.trust", "--json").json()["data"]
    [record] = trail
    assert record["outcome"] == "ok" and record["details"]["trust"]["digest"] == data["digest"]
    mode = stat.S_IMODE(trust_file(test_env).stat().st_mode)
    assert mode == 0o600
    assert [
        p.name for p in trust_file(test_env).parent.iterdir() if p.name.startswith(".trust-")
    ] == []


@pytest.mark.parametrize(
    "change",
    ["edit logomesh.toml", "edit a manifest", "add a plugin", "remove logomesh.toml"],
)
def test_a_change_to_what_was_trusted_asks_again(
    hostile: Path, cli: CliFn, load_real: Callable[..., LoadedSettings], change: str
) -> None:
    assert cli("trust").code == 0
    assert load_real().settings.workspace_trusted is True
    if change == "edit logomesh.toml":
        with (hostile / "logomesh.toml").open("a") as out:
            out.write('\n[[devshell.commands]]\nname = "more"\nargv = ["true"]\n')
    elif change == "edit a manifest":
        manifest = hostile / "plugins" / "evil" / "logomesh-plugin.toml"
        manifest.write_text(manifest.read_text().replace("Says hello", "Says hi"))
    elif change == "add a plugin":
        other = hostile / "plugins" / "other"
        other.mkdir()
        (other / "logomesh-plugin.toml").write_text(PLUGIN_MANIFEST.replace("evil", "other"))
    else:
        (hostile / "logomesh.toml").unlink()
    loaded = load_real()
    assert loaded.settings.workspace_trusted is False
    assert loaded.trust.changed
    [notice] = loaded.notices
    assert "changed since it was trusted" in notice and "logomesh trust" in notice
    assert cli("trust").code == 0
    assert load_real().settings.workspace_trusted is True


def test_revoke_turns_the_code_off_again(
    hostile: Path, cli: CliFn, load_real: Callable[..., LoadedSettings]
) -> None:
    assert cli("trust").code == 0
    revoked = cli("trust", "--revoke", "--json")
    assert revoked.code == 0 and revoked.json()["data"]["trusted"] is False
    assert "no longer trusted" in revoked.json()["message"]
    assert load_real().settings.workspace_trusted is False
    again = cli("trust", "--revoke", "--json")
    assert again.code == 0 and "was not trusted" in again.json()["message"]


def test_init_trusts_the_workspace_it_creates_but_not_a_cloned_one(
    workspace: Path, cli: CliFn, load_real: Callable[..., LoadedSettings], tmp_path: Path
) -> None:
    made = cli("init", "--json")
    assert made.code == 0, made.err
    assert made.json()["data"]["trusted"] is True
    assert load_real().settings.workspace_trusted is True
    [record] = cli("audit", "query", "--action", "workspace.init", "--json").json()["data"]
    assert record["details"]["trust"]["note"] == "trusted by init"

    # A folder that already holds plugins (a clone) is set up, but not trusted by init.
    cloned = tmp_path / "clone"
    (cloned / "plugins" / "evil").mkdir(parents=True)
    (cloned / "plugins" / "evil" / "main.py").write_text(PLUGIN_MAIN)
    (cloned / "plugins" / "evil" / "logomesh-plugin.toml").write_text(PLUGIN_MANIFEST)
    init = cli("--workspace", str(cloned), "init", "--json")
    assert init.code == 0, init.err
    assert init.json()["data"]["trusted"] is False
    assert "logomesh trust" in init.json()["message"]
    assert markers(cloned) == []


@pytest.mark.parametrize(
    ("toml", "key", "line"),
    [
        (
            f'mode = "local"\n\n[audit]\ntrusted_public_keys = ["{KEY}"]\n',
            "audit.trusted_public_keys",
            4,
        ),
        ('[audit]\nwriter_batch = 5\nkey_path = "/tmp/k"\n', "audit.key_path", 3),
        ('[audit]\ndurable_from = "danger"\n', "audit.durable_from", 2),
        ("[security]\nrequire_roles = false\n", "security.require_roles", 2),
        (
            '[[security.identities]]\nname = "mallory"\nroles = ["owner"]\n',
            "security.identities",
            1,
        ),
        ('security.max_risk = "danger"\n', "security.max_risk", 1),
    ],
)
def test_a_workspace_file_setting_a_security_key_is_refused(
    workspace: Path, load_real: Callable[..., LoadedSettings], toml: str, key: str, line: int
) -> None:
    (workspace / "logomesh.toml").write_text(toml)
    for trusted in (None, True):  # trust does not make a workspace a place for them
        with pytest.raises(ConfigError) as caught:
            load_real(trusted=trusted)
        message = caught.value.user_message
        assert f"{workspace / 'logomesh.toml'}:{line}: `{key}`" in message
        assert "config.toml" in message and "LOGOMESH_" in message


def test_the_cli_names_the_security_key_and_where_to_put_it(workspace: Path, cli: CliFn) -> None:
    (workspace / "logomesh.toml").write_text(f'[audit]\ntrusted_public_keys = ["{KEY}"]\n')
    result = cli("status")
    assert result.code == 2
    assert f"{workspace / 'logomesh.toml'}:2: `audit.trusted_public_keys`" in result.err
    assert "user config file" in result.err


def test_security_keys_from_the_user_file_env_flags_and_config_work(
    workspace: Path, load_real: Callable[..., LoadedSettings], test_env: dict[str, str]
) -> None:
    user_file = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(
        f'[audit]\ntrusted_public_keys = ["{KEY}"]\n[security]\nmax_risk = "write"\n'
    )
    loaded = load_real()
    assert loaded.settings.audit.trusted_public_keys == (KEY,)
    assert loaded.settings.security.max_risk == "write"
    assert loaded.provenance["audit.trusted_public_keys"] == f"{user_file}:2"

    env_keys = {"LOGOMESH_AUDIT__TRUSTED_PUBLIC_KEYS": json.dumps(["cd" * 32])}
    assert load_real(env=env_keys).settings.audit.trusted_public_keys == ("cd" * 32,)
    flagged = load_real({"security": {"require_roles": True}})
    assert flagged.settings.security.require_roles is True

    explicit = workspace.parent / "ci-config.toml"
    explicit.write_text('[security]\nowner = "ci"\n')
    assert load_real(config_file=explicit).settings.security.owner == "ci"


@pytest.mark.parametrize("where", ["workspace file", "env"])
def test_no_configuration_can_declare_a_workspace_trusted(
    hostile: Path, load_real: Callable[..., LoadedSettings], where: str
) -> None:
    env = {}
    if where == "workspace file":
        text = (hostile / "logomesh.toml").read_text()
        (hostile / "logomesh.toml").write_text("workspace_trusted = true\n" + text)
    else:
        env = {"LOGOMESH_WORKSPACE_TRUSTED": "true"}
    with pytest.raises(ConfigError) as caught:
        load_real(env=env)
    assert "`workspace_trusted`" in caught.value.user_message
    assert "logomesh trust" in caught.value.user_message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("{not json", "is not a valid trust file"),
        ('{"format": 1, "workspaces": {"/x": {"digest": 5}}}', "is not a valid trust file"),
        ('["a list"]', "is not a valid trust file"),
    ],
)
def test_a_corrupt_trust_file_is_an_error_never_trust(
    hostile: Path,
    cli: CliFn,
    load_real: Callable[..., LoadedSettings],
    test_env: dict[str, str],
    content: str,
    what: str,
) -> None:
    assert cli("trust").code == 0
    path = trust_file(test_env)
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_real()
    assert caught.value.code == "config.trust"
    message = caught.value.user_message
    assert str(path) in message and what in message and "delete the file" in message
    result = cli("status")
    assert result.code == 2 and str(path) in result.err
    assert markers(hostile) == []


def test_a_trust_file_others_may_write_is_refused(
    hostile: Path, cli: CliFn, load_real: Callable[..., LoadedSettings], test_env: dict[str, str]
) -> None:
    assert cli("trust").code == 0
    os.chmod(trust_file(test_env), 0o666)
    with pytest.raises(ConfigError) as caught:
        load_real()
    assert "chmod 600" in caught.value.user_message


def test_an_adapter_may_bring_its_own_trust(
    hostile: Path, cli: CliFn, load_real: Callable[..., LoadedSettings]
) -> None:
    assert load_real(trusted=True).settings.workspace_trusted is True
    assert cli("trust").code == 0
    denied = load_real(trusted=False)  # the editor said no: the store does not overrule it
    assert denied.settings.workspace_trusted is False and denied.notices
    assert "adapter" in denied.provenance["workspace_trusted"]


def test_plugin_paths_in_the_workspace_file_are_gated_and_hashed(
    workspace: Path,
    tmp_path: Path,
    cli: CliFn,
    load_real: Callable[..., LoadedSettings],
    engines: Callable[..., Engine],
) -> None:
    elsewhere = tmp_path / "elsewhere" / "evil"
    elsewhere.mkdir(parents=True)
    (elsewhere / "main.py").write_text(PLUGIN_MAIN)
    (elsewhere / "logomesh-plugin.toml").write_text(PLUGIN_MANIFEST)
    (workspace / "logomesh.toml").write_text(f'[plugins]\npaths = ["{elsewhere.parent}"]\n')
    loaded = load_real()
    assert loaded.settings.plugins.paths == ()
    assert "`plugins.paths`" in loaded.notices[0]
    assert engines(loaded).plugins.plugins == {}

    assert cli("trust").code == 0
    engine = engines(load_real())
    assert "evil.hello" in engine.registry
    manifest = elsewhere / "logomesh-plugin.toml"
    manifest.write_text(manifest.read_text().replace("0.1.0", "0.2.0"))
    assert load_real().settings.workspace_trusted is False  # its manifest is covered too


def test_model_declarations_in_the_workspace_file_wait_for_trust(
    workspace: Path, cli: CliFn, load_real: Callable[..., LoadedSettings]
) -> None:
    """A cloned repository's ``[[llm.models]]`` could import any llama-index class or send
    every prompt to its own server: it is withheld like the other code it declares."""
    (workspace / "logomesh.toml").write_text(
        '[[llm.models]]\nname = "theirs"\nprovider = "openai-compatible"\n'
        'options = { base_url = "http://198.51.100.7/v1", model = "m" }\n'
    )
    loaded = load_real()
    assert loaded.settings.llm.models == ()
    assert "`llm.models`" in loaded.notices[0] and "logomesh.toml:1" in loaded.notices[0]
    assert cli("trust").code == 0
    assert [model.name for model in load_real().settings.llm.models] == ["theirs"]


def test_a_workspace_cannot_override_the_mode_the_user_chose(
    workspace: Path, test_env: dict[str, str], load_real: Callable[..., LoadedSettings]
) -> None:
    """Modes are presets: a clone's ``mode = "local"`` over the user's team mode would turn
    required roles and the two-person rule off. The user's mode stands, and they are told."""
    (workspace / "logomesh.toml").write_text('mode = "local"\n')
    loaded = load_real()
    assert loaded.settings.mode == "local"  # with no mode of the user's, the workspace picks

    user_file = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    db = workspace / "team.db"
    user_file.write_text(f'mode = "team"\n[database]\nurl = "sqlite:///{db}"\n')
    loaded = load_real()
    assert loaded.settings.mode == "team"
    assert (
        loaded.settings.security.require_roles and "danger" in loaded.settings.security.two_person
    )
    [notice] = [n for n in loaded.notices if "mode" in n]
    assert f"{workspace / 'logomesh.toml'}:1" in notice and f"{user_file}:1" in notice
    assert load_real({"mode": "local"}).settings.mode == "local"  # a flag is the user's own


def test_a_user_plugin_path_into_an_untrusted_workspace_is_not_read(
    workspace: Path, load_real: Callable[..., LoadedSettings], engines: Callable[..., Engine]
) -> None:
    folder = workspace / "tools" / "evil"
    folder.mkdir(parents=True)
    (folder / "main.py").write_text(PLUGIN_MAIN)
    (folder / "logomesh-plugin.toml").write_text(PLUGIN_MANIFEST)
    flags = {"plugins": {**FAST["plugins"], "paths": ["tools"]}}  # relative: in the workspace
    engine = engines(load_real(flags))
    assert engine.plugins.plugins == {}
    trusted = engines(load_real(flags, trusted=True))
    assert "evil.hello" in trusted.registry


def test_a_plugin_logomesh_creates_keeps_a_trusted_workspace_trusted(
    workspace: Path, cli: CliFn, load_real: Callable[..., LoadedSettings]
) -> None:
    assert cli("init").code == 0
    made = cli("plugin", "new", "greeter", "--json")
    assert made.code == 0, made.err
    assert made.json()["data"]["workspace_trusted"] is True
    loaded = load_real()
    assert loaded.settings.workspace_trusted is True and loaded.notices == ()

    # In a workspace that was not trusted, creating a plugin trusts nothing.
    assert cli("trust", "--revoke").code == 0
    other = cli("plugin", "new", "other", "--json")
    assert other.code == 0 and other.json()["data"]["workspace_trusted"] is False
    assert "logomesh trust" in other.json()["message"]
    assert load_real().settings.workspace_trusted is False


TRUST_MANY = """
import sys
from pathlib import Path
from logomesh.trust import TrustStore, TrustSubject
store = TrustStore(Path(sys.argv[1]))
for n in range(10):
    ws = Path(sys.argv[2]) / f"ws-{n}"
    store.trust(TrustSubject(ws, None, (), "sha256:" + "0" * 64), "proc")
"""


def test_processes_trusting_at_once_lose_no_decision(tmp_path: Path) -> None:
    path = tmp_path / "config" / TRUST_FILE
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen([PY, "-c", TRUST_MANY, str(path), str(tmp_path / f"p{i}")], env=env)
        for i in range(6)
    ]
    assert [proc.wait(timeout=60) for proc in procs] == [0] * 6
    stored = json.loads(path.read_text())["workspaces"]
    assert len(stored) == 60
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
