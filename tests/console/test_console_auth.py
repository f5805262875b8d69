"""The console with keys configured (multi-tenant mode): it asks for a key, keeps it in the tab, sends it as a
Bearer token, and shows only the rows of the key's organization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from letta_client import Letta

from engram.config import Settings

ADMIN = "console-admin-key-0123456789"


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"admin_key": ADMIN})


def org_key(live_url: str, name: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    org = httpx.post(f"{live_url}/v1/admin/organizations", json={"name": name}, headers=headers).json()
    issued = httpx.post(
        f"{live_url}/v1/admin/organizations/{org['id']}/keys", json={"name": "c"}, headers=headers
    )
    return issued.json()["key"]


def enter_key(page: Any, key: str) -> None:
    page.locator("#key-prompt").wait_for()
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")


def test_the_console_asks_for_a_key_and_shows_only_its_organization(
    page: Any, live_url: str, screenshots: Path
) -> None:
    key_a, key_b = org_key(live_url, "console-a"), org_key(live_url, "console-b")
    Letta(base_url=live_url, api_key=key_a).agents.create(name="only-in-a")
    assert httpx.get(f"{live_url}/console/_f/agents").status_code == 401  # fragments need the key too

    page.goto("/console/agents")
    assert page.locator("#view").is_hidden()
    enter_key(page, "sk-engram-wrong")
    page.locator("#key-error", has_text="not accepted").wait_for()
    page.screenshot(path=str(screenshots / "key-prompt.png"))

    enter_key(page, key_b)
    page.locator("#view[data-loaded]").wait_for(state="attached")
    assert page.locator("#no-agents").is_visible()
    assert page.evaluate("sessionStorage.getItem('engram.apiKey')") == key_b

    page.click("#forget-key")
    enter_key(page, key_a)
    page.locator("#agent-list tbody tr", has_text="only-in-a").wait_for()
    page.click("#agent-list a")  # navigation keeps the key (same tab)
    page.locator("#agent-name", has_text="only-in-a").wait_for()
    page.locator("#context-panel .ctxbar").wait_for()
    assert page.locator("#key-prompt").is_hidden()
