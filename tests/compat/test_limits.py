"""Request limits: oversized bodies, too many or too long messages, big uploads and block values are
refused with 413/422 and a message, before anything is stored."""

from __future__ import annotations

import httpx
import pytest
from letta_client import Letta

from engram.config import Settings
from engram.errors import PayloadTooLarge
from engram.ids import new_id
from engram.schemas.agent import BlockSpec
from engram.store import blocks
from engram.store.blocks import MAX_BLOCK_VALUE_CHARS


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"max_request_bytes": 20_000, "max_upload_bytes": 2_000, "max_messages_per_request": 3,
                "max_message_chars": 100}
    )  # fmt: skip


@pytest.fixture(scope="module")
def agent_id(letta: Letta) -> str:
    return letta.agents.create(name="limited", model="engram/offline").id


def _send(live_url: str, agent_id: str, body: dict) -> httpx.Response:
    return httpx.post(f"{live_url}/v1/agents/{agent_id}/messages", json=body, timeout=30)


def test_oversized_body_is_413(live_url: str, agent_id: str) -> None:
    response = _send(live_url, agent_id, {"input": "x" * 30_000})
    assert response.status_code == 413
    assert "20000 bytes" in response.json()["detail"]
    assert response.headers["x-should-retry"] == "false"


def test_too_many_messages_is_422_and_too_long_a_message_is_413(live_url: str, agent_id: str, letta: Letta) -> None:
    many = _send(live_url, agent_id, {"messages": [{"role": "user", "content": "hi"}] * 4})
    assert many.status_code == 422 and "too many messages" in many.json()["detail"]
    long = _send(live_url, agent_id, {"input": "y" * 101})
    assert long.status_code == 413 and "101 characters" in long.json()["detail"]
    assert letta.runs.list(agent_id=agent_id).items == []  # nothing was stored or started


def test_upload_over_the_limit_is_413(live_url: str) -> None:
    response = httpx.post(
        f"{live_url}/v1/agents/import", files={"file": ("big.af", b"{" + b" " * 5_000 + b"}", "application/json")}
    )
    assert response.status_code == 413


async def test_block_value_over_the_hard_ceiling_is_refused(sessions) -> None:
    async with sessions.begin() as session:
        with pytest.raises(PayloadTooLarge):
            await blocks.create_block(session, new_id("org"), BlockSpec(label="x", value="z" * (MAX_BLOCK_VALUE_CHARS + 1)))
