"""The neutral chat layer stays neutral: ``bots/chat/`` imports no chat platform's SDK.

Read with ``ast`` (nothing is imported), like tests/test_boundaries.py: an import inside a
function counts too, since it runs the moment the function does. A platform's package
(``bots/slack/``, ``bots/discord/``) translates to and from the platform; the layer every
platform shares must work, and be tested, without any of them installed.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_boundaries import _imported_modules, _imported_top_levels

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "bots" / "chat"
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


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def later():\n    import aiohttp\nfrom slack_sdk.web import WebClient\nimport json\n"
    )
    assert _imported_top_levels(sample) & PLATFORM_SDKS == {"aiohttp", "slack_sdk"}
