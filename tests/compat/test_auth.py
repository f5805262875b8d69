"""ENGRAM_API_KEY: every /v1 call but health needs the bearer key; letta-client's api_key satisfies it."""

from __future__ import annotations

import httpx
import pytest
from letta_client import AuthenticationError, Letta

from engram.config import Settings

KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_key": KEY})


def test_requests_without_the_key_are_401(live_url: str) -> None:
    response = httpx.get(f"{live_url}/v1/agents/")
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]
    wrong = httpx.get(f"{live_url}/v1/agents/", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401


def test_health_stays_open(live_url: str) -> None:
    assert httpx.get(f"{live_url}/v1/health/").json()["status"] == "ok"


def test_letta_client_with_the_key_is_served(live_url: str) -> None:
    with_key = Letta(base_url=live_url, api_key=KEY, max_retries=0)
    agent = with_key.agents.create(name="keyed", model="engram/offline")
    assert with_key.agents.retrieve(agent.id).name == "keyed"
    with pytest.raises(AuthenticationError):
        Letta(base_url=live_url, max_retries=0).agents.list()
