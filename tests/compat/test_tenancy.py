"""Multi-tenant mode (ENGRAM_ADMIN_KEY): organizations with their own keys never see each other's rows."""

from __future__ import annotations

import httpx
import pytest
from letta_client import AuthenticationError, Letta, NotFoundError, PermissionDeniedError

from engram.config import Settings

ADMIN = "admin-key-0123456789"

pytestmark = pytest.mark.usefixtures("worker_running")


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"admin_key": ADMIN})


def _admin(live_url: str, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{live_url}/v1/admin{path}", headers={"Authorization": f"Bearer {ADMIN}"}, **kwargs)


def _org_key(live_url: str, name: str) -> tuple[str, str, str]:
    org = _admin(live_url, "POST", "/organizations", json={"name": name}).json()
    issued = _admin(live_url, "POST", f"/organizations/{org['id']}/keys", json={"name": "ci"}).json()
    assert issued["key"].startswith("sk-engram-")
    return org["id"], issued["id"], issued["key"]


def test_orgs_are_isolated_and_revoked_keys_stop_working(live_url: str) -> None:
    _, key_a_id, key_a = _org_key(live_url, "a")
    _, _, key_b = _org_key(live_url, "b")
    alice = Letta(base_url=live_url, api_key=key_a, max_retries=0)
    bob = Letta(base_url=live_url, api_key=key_b, max_retries=0)

    agent = alice.agents.create(name="alice-agent", model="engram/offline",
                                memory_blocks=[{"label": "human", "value": "secret"}])  # fmt: skip
    reply = alice.agents.messages.create(agent_id=agent.id, input="My name is Alice")
    [run_id] = reply.usage.run_ids
    passage = alice.agents.passages.create(agent_id=agent.id, text="alice's private note")[0]

    assert [a.id for a in bob.agents.list()] == []
    for attempt in (
        lambda: bob.agents.retrieve(agent.id),
        lambda: bob.agents.messages.create(agent_id=agent.id, input="hi"),
        lambda: bob.agents.messages.list(agent_id=agent.id),
        lambda: bob.agents.blocks.retrieve("human", agent_id=agent.id),
        lambda: bob.blocks.retrieve(agent.blocks[0].id),
        lambda: bob.agents.passages.delete(passage.id, agent_id=agent.id),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    with pytest.raises(NotFoundError):
        bob.runs.retrieve(run_id)
    assert alice.agents.retrieve(agent.id).name == "alice-agent"

    with pytest.raises(PermissionDeniedError):
        alice.post("/v1/admin/organizations", cast_to=object, body={"name": "x"})
    assert _admin(live_url, "DELETE", f"/keys/{key_a_id}").json()["revoked_at"] is not None
    with pytest.raises(AuthenticationError):
        alice.agents.list()


def test_unknown_keys_and_missing_keys_are_401(live_url: str) -> None:
    assert httpx.get(f"{live_url}/v1/agents/").status_code == 401
    assert httpx.get(f"{live_url}/v1/agents/", headers={"Authorization": "Bearer sk-engram-nope"}).status_code == 401
