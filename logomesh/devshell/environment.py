"""The environment a DevShell child process sees: an allowlist, never the parent's whole one.

A developer's shell environment is full of credentials (cloud keys, bot tokens, database
URLs) that a test suite or a linter has no business reading, and whatever a child can read
it can print into output that ends up in chat and in the audit trail. So a child gets only
the variables tools need to find themselves and behave (``PATH``, ``HOME``, the locale, the
language toolchains' homes), plus any the workspace names in ``devshell.allow_env``; a name
that looks like a secret (:func:`~logomesh.security.redaction.is_secret_key`) is dropped even
when allowed, so ``allow_env = ["GITHUB_TOKEN"]`` cannot leak a token by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from logomesh.security.redaction import is_secret_key

# Shell-style patterns (case-sensitive, as the variables are). Proxy settings and package
# registry configuration are left out on purpose: they routinely embed credentials in URLs.
ALLOWED_VARIABLES: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "TMPDIR",
    "TZ",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    # Python
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYENV_ROOT",
    "PYENV_VERSION",
    # Go, Rust, Node, Java
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "NODE_PATH",
    "NVM_DIR",
    "JAVA_HOME",
)

# Set in every child: output meant for parsing and for people, not for a terminal, and git
# never waits for a password on a stdin that is closed anyway.
FIXED_VARIABLES: dict[str, str] = {
    "NO_COLOR": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def child_environment(
    parent: Mapping[str, str],
    *,
    extra_names: Iterable[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The scrubbed environment for a child, from ``parent`` (normally ``os.environ``).

    ``extra_names`` are further allowed names or patterns (``devshell.allow_env``);
    ``overrides`` are set as given, after scrubbing, by DevShell itself (never by a user).
    """
    allowed = (*ALLOWED_VARIABLES, *extra_names)
    env = {
        name: value
        for name, value in parent.items()
        if any(fnmatchcase(name, pattern) for pattern in allowed) and not is_secret_key(name)
    }
    env.update(FIXED_VARIABLES)
    if overrides:
        env.update(overrides)
    return env
