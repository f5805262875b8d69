"""A live Engram (API + worker, the compat fixtures) driven by a real headless Chromium through Playwright.

The browser is Debian's `chromium` package (installed by .ci/run when missing); Playwright never downloads
one. Screenshots go to $ENGRAM_SCREENSHOTS_DIR when set, else to a pytest temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.conftest import aletta, letta, live_url, worker_running  # noqa: F401 - fixtures

CHROMIUM = os.environ.get("ENGRAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Module scope on purpose: sync Playwright keeps its event loop running in this thread while it lives,
    and pytest-asyncio cannot start async tests of later modules under a running loop."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run should have installed Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium, or run .ci/run)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("ENGRAM_SCREENSHOTS_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("console-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture()
def page(chromium: object, live_url: str) -> Iterator[object]:  # noqa: F811 - fixture from the compat conftest
    context = chromium.new_context(base_url=live_url, viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
