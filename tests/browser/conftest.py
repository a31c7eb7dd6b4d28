import os
import shutil
import warnings
from pathlib import Path

import pytest

from tests.support.processes import REPOSITORY, skip_or_fail

# Where the browser tests leave pictures of the main pages, for a person to look at what changed
# (kept after the run; CI's clone keeps them in the same place).
SCREENSHOTS = Path(os.environ.get("DIGITS_SCREENSHOTS", REPOSITORY / "test-output" / "screenshots"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) and shutil.which("chromium")):
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # Elements are found by the role the page's own scripts know them by.
        playwright.selectors.set_test_id_attribute("data-role")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """screenshot(name): the whole page, saved as name.png in SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, timeout=20000)
        except PlaywrightTimeout:
            # A picture for people, not a check: a loaded machine may not finish painting a
            # long page in time (seen once in CI), and that says nothing of the page.
            warnings.warn(
                f"no screenshot {name}.png: the page took too long to paint", stacklevel=2
            )

    return take


@pytest.fixture
def trouble(page) -> list[str]:
    """What went wrong on the page's side from here on: console errors, uncaught exceptions,
    failed requests and error answers. A test ends with `assert trouble == []`."""
    seen: list[str] = []
    page.on("console", lambda m: m.type == "error" and seen.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: seen.append(f"uncaught: {e}"))
    # A request cut short by leaving the page (net::ERR_ABORTED) is no fault of the page.
    page.on(
        "requestfailed",
        lambda r: (
            "ERR_ABORTED" not in (r.failure or "") and seen.append(f"failed: {r.url} {r.failure}")
        ),
    )
    page.on("response", lambda r: r.status >= 400 and seen.append(f"{r.status}: {r.url}"))
    return seen
