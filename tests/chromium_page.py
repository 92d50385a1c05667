"""A headless Chromium page for tests of the web page outside tests/server (whose
conftest has its own fixtures): opened at a server's URL, closed after, and a JavaScript
error on it fails the test."""

from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # installed by `make test-system`
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@contextmanager
def chromium_page(url: str):
    """The page at `url` + "/" (viewport 1280 x 900)."""
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/")
            yield page
        finally:
            browser.close()
    assert not errors, errors
