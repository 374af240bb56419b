"""Real Chromium (Debian's `chromium`, /usr/bin/chromium) driven by Playwright's Python client: never a browser of
Playwright's own. Screenshots go to var/console-screenshots/<mode>/ (gitignored), and every screen is checked with
axe-core (web/node_modules/axe-core, pinned in web/package-lock.json) for serious and critical violations."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from servicekit import testing

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("VO2_CHROMIUM", "/usr/bin/chromium")
# As the machine notes say: headless as root, and nothing that reaches for the network by itself.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "console-screenshots"


def need_browser() -> None:
    """Chromium, Playwright, axe-core and the built console: missing in CI fails, elsewhere skips (said)."""
    missing = []
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"chromium ({CHROMIUM}; apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (requirements/test.txt)")
    if not AXE.exists():
        missing.append("axe-core (web/node_modules: ./vo2 setup)")
    if not (ROOT / "web" / "dist" / "index.html").exists():
        missing.append("the built console (web/dist: ./vo2 setup)")
    if missing:
        message = "browser tests need " + ", ".join(missing)
        if testing.servers_required():
            pytest.fail(message)
        pytest.skip(message)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)


def check_accessibility(page, screen: str) -> list[dict]:
    """axe-core on the page as it is now; returns the serious and critical violations (with their nodes)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP does not govern (no inline script added).
        page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    if bad:
        print(f"axe on {screen}: " + json.dumps(bad, indent=1))
    return bad


def shot(page, mode: str, name: str) -> Path:
    folder = SCREENSHOTS / mode
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
