"""What the browser tests and the page benchmark share: how Chromium is launched, a watched page, screenshots and
the axe-core check."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = HERE / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
# Headless, and nothing of the browser's own on the network (no updates, sync or QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1366, "height": 768}
STAFF_PASSWORD = "Correct-Horse-9"


def launch_chromium(playwright: Any):
    """The system's Chromium (Debian's package), never one Playwright would download."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@dataclass
class Watched:
    """A page and what went wrong on it: console errors, uncaught exceptions, dialogs opened."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def goto(self, url: str) -> Any:
        """Opens `url` and waits until the page says it is ready to use (`<html data-ready>`)."""
        self.page.goto(url)
        self.page.wait_for_selector("html[data-ready]", state="attached")
        return self.page


def watch(page: Any) -> Watched:
    w = Watched(page)

    def console(message: Any) -> None:
        if message.type == "error":
            w.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def dialog(d: Any) -> None:
        w.dialogs.append(d.message)
        d.dismiss()

    page.on("console", console)
    page.on("pageerror", lambda e: w.errors.append(f"page error: {e}"))
    page.on("dialog", dialog)
    page.set_default_timeout(15_000)
    return w


def screenshot(page: Any, name: str) -> Path:
    """Kept under tests/browser/artifacts/ (git-ignored); with UPDATE_SCREENSHOTS=1 also as the README's
    docs/screenshots/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path


def axe_violations(page: Any) -> list[dict[str, Any]] | None:
    """axe-core's serious and critical violations on the page as it stands (WCAG 2.1 A and AA rules); None when
    axe-core is not installed."""
    if not AXE.exists():
        return None
    # Evaluated through the DevTools protocol, which the page's CSP does not govern (no inline <script> added).
    page.evaluate("() => {" + AXE.read_text() + "\n}")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
