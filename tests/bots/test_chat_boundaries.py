"""The neutral chat layer stays neutral: ``bots/chat/`` imports no chat platform's SDK.

Read with ``ast`` (nothing is imported), like tests/test_boundaries.py: an import inside a
function counts too, since it runs the moment the function does. A platform's package
(``bots/slack/``, ``bots/discord/``) translates to and from the platform; the layer every
platform shares must work, and be tested, without any of them installed. ``bots/web.py``,
the aiohttp part both platforms' HTTP modes share, needs aiohttp and no platform's SDK or package.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_boundaries import _imported_modules, _imported_top_levels

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "bots" / "chat"
WEB = ROOT / "bots" / "web.py"
PLATFORM_SDKS = {"slack_bolt", "slack_sdk", "discord", "aiohttp"}


def test_the_chat_layer_imports_no_platform_sdk() -> None:
    offenders = []
    for path in sorted(CHAT.rglob("*.py")):
        bad = _imported_top_levels(path) & PLATFORM_SDKS
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_chat_layer_imports_no_platform_package() -> None:
    """bots.chat is what bots.slack and bots.discord build on, never the reverse."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(CHAT.rglob("*.py"))
        for name in sorted(_imported_modules(path))
        if name.startswith(("bots.slack", "bots.discord"))
    ]
    assert offenders == []


def test_the_shared_http_part_is_only_aiohttp() -> None:
    """bots/web.py serves every platform's HTTP mode, so it may import aiohttp but no
    platform's SDK or package (those build on it)."""
    names = _imported_modules(WEB)
    bad = {name for name in names if name.split(".")[0] in PLATFORM_SDKS - {"aiohttp"}}
    bad |= {name for name in names if name.startswith(("bots.slack", "bots.discord"))}
    assert bad == set()


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def later():\n    import aiohttp\nfrom slack_sdk.web import WebClient\nimport json\n"
    )
    assert _imported_top_levels(sample) & PLATFORM_SDKS == {"aiohttp", "slack_sdk"}
