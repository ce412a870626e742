"""The person at VS Code: one browser page on code-server's workbench, driven by Playwright.

Every step is something a person does (a key, a click, typed words) and every check waits
for what a person would see, with Playwright's auto-waiting: no fixed sleeps, generous
timeouts (2 cores, several language servers, a local model). The selectors are VS Code's
own DOM classes (``.quick-input-widget``, ``.notification-toast``, ``.statusbar-item``),
stable across releases for years; the one place that would change is here.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# The workbench takes ~15 s to load here; a language server's first answer with the models
# loading, and the local model's explanation, take tens of seconds on 2 shared cores.
LOAD_MS = 120_000
STEP_MS = 30_000
SLOW_MS = 180_000
# Where the screenshots go: a git-ignored folder, so `make test` leaves the tree clean;
# `make screenshots` points this at vscode-extension/media/screenshots (the README's).
SCREENSHOTS = Path(
    os.environ.get(
        "LOGOMESH_E2E_SCREENSHOTS",
        Path(__file__).resolve().parents[2] / ".benchmarks" / "vscode-screenshots",
    )
)
TRUST = "Yes, I trust the authors"
DISTRUST = "No, I don't trust the authors"


def exactly(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


@dataclass
class Window:
    """A VS Code window on one folder, and the figures measured while opening it."""

    page: Page
    folder: Path
    trusted: bool
    ready_s: float = 0.0
    screenshots: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, page: Page, url: str, folder: Path, *, trust: bool) -> Window:
        """Load the workbench on ``folder`` and answer the Workspace Trust dialog."""
        started = time.monotonic()
        page.goto(f"{url}/?folder={folder}", timeout=LOAD_MS)
        window = cls(page, folder, trust)
        dialog = page.locator(".monaco-dialog-box").filter(has_text="trust the authors")
        expect(dialog).to_be_visible(timeout=LOAD_MS)
        window.ready_s = time.monotonic() - started
        dialog.get_by_role("button", name=TRUST if trust else DISTRUST).click()
        expect(dialog).to_be_hidden(timeout=STEP_MS)
        expect(page.locator(".part.statusbar")).to_be_visible(timeout=STEP_MS)
        return window

    # The command palette, quick picks and input boxes share one widget.
    @property
    def quick_input(self) -> Locator:
        return self.page.locator(".quick-input-widget")

    def palette(self, title: str, *, attempts: int = 8) -> None:
        """F1, type the command's title, pick it (the row, not whatever is first).

        The palette lists the commands known when it opens: one opened while the extension's
        contributions are still being registered never shows them, so it is opened again."""
        box = self.quick_input.locator("input.input")
        for _ in range(attempts):
            self.page.keyboard.press("Escape")  # whatever menu or pick a step left open
            self.page.keyboard.press("F1")
            expect(box).to_be_visible(timeout=STEP_MS)
            box.fill(f">{title}")
            try:
                expect(self.row(title).first).to_be_visible(timeout=5_000)
            except AssertionError:
                continue
            self.pick(title)
            return
        raise AssertionError(f"the command palette never listed {title!r}")

    def row(self, label: str) -> Locator:
        """The quick pick rows whose label is ``label`` exactly."""
        # An inner locator of `has` is matched inside each row: built from the page.
        label_node = self.page.locator(".label-name").filter(has_text=exactly(label))
        return self.quick_input.locator(".monaco-list-row").filter(has=label_node)

    def pick(self, label: str, *, timeout: float = STEP_MS) -> None:
        """Click the quick pick row whose label is ``label`` exactly."""
        self.row(label).first.click(timeout=timeout)

    def filter_and_pick(self, label: str, *, timeout: float = STEP_MS) -> None:
        """Type ``label`` into an open quick pick to narrow it, then pick that row."""
        box = self.quick_input.locator("input.input")
        expect(box).to_be_visible(timeout=timeout)
        box.fill(label)
        self.pick(label, timeout=timeout)

    def answer(self, text: str, *, timeout: float = STEP_MS) -> None:
        """Type into the open input box and press Enter."""
        box = self.quick_input.locator("input.input")
        expect(box).to_be_visible(timeout=timeout)
        box.fill(text)
        box.press("Enter")

    def arguments(self, command: str, values: dict[str, str]) -> None:
        """Answer *Run Command...*'s argument steps (one per schema property, titled
        ``COMMAND: NAME (i of n)``): a pick (enums, yes/no) or an input box, by name."""
        title = self.quick_input.locator(".quick-input-title")
        for step in range(1, len(values) + 1):
            expect(title).to_have_text(re.compile(rf"{re.escape(command)}: \S+ \({step} of \d+\)"))
            name = re.search(rf"{re.escape(command)}: (\S+) \(", title.inner_text())
            assert name and name[1] in values, f"no value for step {title.inner_text()!r}"
            if self.quick_input.locator(".quick-input-list .monaco-list-row").count():
                self.pick(values[name[1]])
            else:
                self.answer(values[name[1]])

    def escape(self) -> None:
        self.page.keyboard.press("Escape")

    # Notifications (toasts): results, and the server's questions (showMessageRequest).
    def notification(self, text: str | re.Pattern[str], *, timeout: float = SLOW_MS) -> Locator:
        toast = self.page.locator(".notifications-toasts .notification-toast").filter(has_text=text)
        expect(toast.last).to_be_visible(timeout=timeout)
        return toast.last

    def click_button(self, toast: Locator, name: str) -> None:
        toast.get_by_role("button", name=name).click(timeout=STEP_MS)

    def toasts(self) -> list[str]:
        return self.page.locator(".notifications-toasts .notification-toast").all_inner_texts()

    def clear_notifications(self) -> None:
        self.palette("Notifications: Clear All Notifications")

    # The status bar, editors, views.
    def status_item(self, text: str | re.Pattern[str], *, timeout: float = SLOW_MS) -> Locator:
        item = self.page.locator(".part.statusbar .statusbar-item").filter(has_text=text)
        expect(item.first).to_be_visible(timeout=timeout)
        return item.first

    def active_editor_text(self, *, timeout: float = STEP_MS) -> str:
        lines = self.page.locator(".editor-group-container.active .view-lines")
        expect(lines.first).to_be_visible(timeout=timeout)
        return lines.first.inner_text()

    def open_file(self, relative: str) -> None:
        """Quick Open (Ctrl+P) the file, as a person would."""
        self.page.keyboard.press("Control+P")
        self.filter_and_pick(Path(relative).name)
        tab = self.page.locator(".tabs-container .tab.active").filter(has_text=Path(relative).name)
        expect(tab).to_be_visible(timeout=STEP_MS)

    def light_bulb(self, title: str, *, attempts: int = 10) -> Locator:
        """Open the light bulb's menu until it offers ``title`` (the row, to click).

        The bulb shows as soon as the cursor's first answer has actions; the answer for a
        selection made after that can arrive later, so a menu without the action is closed
        and the bulb clicked again (each try waits a few seconds, the whole up to a minute)."""
        bulb = self.page.locator(".lightBulbWidget, .codicon-light-bulb").first
        menu = self.page.locator(".action-widget")
        row = menu.locator(".monaco-list-row").filter(has_text=title)
        for _ in range(attempts):
            try:
                expect(bulb).to_be_visible(timeout=STEP_MS)
                bulb.click()
            except AssertionError:
                # The bulb is drawn only for actions of the cursor's own answer; Ctrl+.
                # asks for the selection's actions directly, as a person would.
                self.page.keyboard.press("Control+.")
            expect(menu.locator(".monaco-list-row").first).to_be_visible(timeout=STEP_MS)
            try:
                expect(row).to_be_visible(timeout=5_000)
                return row
            except AssertionError:
                self.page.keyboard.press("Escape")
        raise AssertionError(f"the light bulb never offered {title!r}: {menu.inner_text()}")

    def view(self, title: str) -> Locator:
        """The sidebar pane titled ``title`` (it must be open)."""
        pane = self.page.locator(".part.sidebar .pane").filter(
            has=self.page.locator(".pane-header").filter(has_text=re.compile(title, re.I))
        )
        expect(pane.first).to_be_visible(timeout=STEP_MS)
        return pane.first

    def screenshot(self, name: str, *, settled: bool = True) -> Path:
        """Save the whole window as SCREENSHOTS/NAME.png (the README's under `make
        screenshots`): once no notification shows progress (unless ``settled`` is False:
        a command that waits on purpose), with animations finished."""
        if settled:
            busy = self.page.locator(".notifications-toasts .monaco-progress-container.active")
            expect(busy).to_have_count(0, timeout=SLOW_MS)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=path, animations="disabled")
        self.screenshots.append(path)
        return path
