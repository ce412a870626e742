"""Where a path may lead and what an argument may look like, checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from logomesh.devshell.arguments import check_ref_name, check_remote, check_revision
from logomesh.devshell.environment import child_environment
from logomesh.devshell.paths import resolve_in_workspace
from logomesh.errors import InvalidArgumentsError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("x = 1\n")
    (tmp_path / "outside.txt").write_text("not yours\n")
    return root


def test_paths_inside_resolve_relative_to_the_root(tree: Path) -> None:
    assert resolve_in_workspace(tree, "src/app.py").relative == "src/app.py"
    assert resolve_in_workspace(tree, "src/../src/app.py").relative == "src/app.py"
    assert resolve_in_workspace(tree, str(tree / "src")).relative == "src"
    assert resolve_in_workspace(tree, ".").relative == "."


@pytest.mark.parametrize("value", ["../outside.txt", "src/../../outside.txt", "/etc/passwd"])
def test_paths_leading_outside_are_refused_naming_argument_and_root(tree: Path, value: str) -> None:
    with pytest.raises(InvalidArgumentsError) as caught:
        resolve_in_workspace(tree, value, argument="path", must_exist=False)
    message = caught.value.user_message
    assert "`path`" in message and str(tree.resolve()) in message and "outside" in message


def test_a_symlink_pointing_outside_is_refused(tree: Path) -> None:
    (tree / "escape").symlink_to(tree.parent / "outside.txt")
    (tree / "inner").symlink_to(tree / "src")
    with pytest.raises(InvalidArgumentsError, match="symbolic link"):
        resolve_in_workspace(tree, "escape")
    assert resolve_in_workspace(tree, "inner/app.py").relative == "src/app.py"


def test_logomesh_state_nul_bytes_and_missing_files_are_refused(tree: Path) -> None:
    (tree / ".logomesh").mkdir()
    with pytest.raises(InvalidArgumentsError, match="LogoMesh's own state"):
        resolve_in_workspace(tree, ".logomesh/logomesh.db", must_exist=False)
    with pytest.raises(InvalidArgumentsError, match="NUL"):
        resolve_in_workspace(tree, "src/app.py\0.txt")
    with pytest.raises(InvalidArgumentsError, match="no such file"):
        resolve_in_workspace(tree, "src/nope.py")


def test_a_path_that_looks_like_an_option_is_passed_as_a_path(tree: Path) -> None:
    (tree / "-rf").write_text("")
    assert resolve_in_workspace(tree, "-rf").arg == "./-rf"
    assert resolve_in_workspace(tree, "src/app.py").arg == "src/app.py"


@pytest.mark.parametrize(
    "value",
    ["HEAD", "main", "HEAD~2", "HEAD^", "v1.0^2", "feature/login-form", "4b825dc6", "release@2"],
)
def test_valid_revisions_pass(value: str) -> None:
    assert check_revision(value) == value


@pytest.mark.parametrize("value", ["main..feature", "main...HEAD~1", "..main", "v1.0.."])
def test_ranges_pass_where_ranges_are_allowed(value: str) -> None:
    assert check_revision(value, ranges=True) == value
    with pytest.raises(ValueError):
        check_revision(value)


@pytest.mark.parametrize(
    "value",
    [
        "-x",
        "--upload-pack=touch pwned",
        "--output=pwned",
        "; rm -rf /",
        "$(touch pwned)",
        "`touch pwned`",
        "main|touch pwned",
        "main touch",
        "a..b..c",
        "feature.lock",
        ".hidden",
        "a//b",
        "main@{1}",
        "main/",
        "HEAD:secret.txt",
        "",
        "x\0y",
    ],
)
def test_invalid_or_hostile_revisions_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        check_revision(value, ranges=True)


def test_branch_names_take_no_revision_suffixes() -> None:
    assert check_ref_name("feature/x") == "feature/x"
    for bad in ("main~1", "main^", "-main", ":main", "main:other"):
        with pytest.raises(ValueError):
            check_ref_name(bad)


@pytest.mark.parametrize(
    "value", ["ext::sh -c touch% pwned", "https://example.com/x.git", "--receive-pack=x", "a b"]
)
def test_remotes_are_names_never_urls_or_options(value: str) -> None:
    with pytest.raises(ValueError):
        check_remote(value)
    assert check_remote("origin") == "origin"
    assert check_remote("upstream-2") == "upstream-2"


def test_the_environment_is_an_allowlist_without_secrets() -> None:
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/ada",
        "LC_ALL": "C.UTF-8",
        "GOPATH": "/go",
        "DATABASE_URL": "postgresql://u:p@db/x",
        "GITHUB_TOKEN": "ghp_x",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "PYTHONPATH": "/evil",
    }
    env = child_environment(parent, extra_names=["GITHUB_TOKEN"], overrides={"X_MODE": "1"})
    assert {"PATH", "HOME", "LC_ALL", "GOPATH", "X_MODE", "NO_COLOR"} <= set(env)
    assert not {"DATABASE_URL", "GITHUB_TOKEN", "SLACK_BOT_TOKEN", "PYTHONPATH"} & set(env)
