"""Block edits with `If-Match`: the compare-and-set the memory tools use, offered to API clients (the console
sends it on every save), so a stale editor gets a 409 instead of silently overwriting a newer value."""

from __future__ import annotations

import httpx
import pytest
from letta_client import ConflictError, Letta, UnprocessableEntityError


def test_if_match_writes_only_the_version_it_was_based_on(letta: Letta, live_url: str) -> None:
    agent = letta.agents.create(name="cas", memory_blocks=[{"label": "human", "value": "v1"}])
    path = f"/v1/agents/{agent.id}/core-memory/blocks/human"
    etag = httpx.get(live_url + path).headers["etag"]
    updated = letta.agents.blocks.update(
        "human", agent_id=agent.id, value="v2", extra_headers={"If-Match": etag}
    )
    assert updated.value == "v2"
    with pytest.raises(ConflictError) as stale:  # a second edit based on the same (now old) version
        letta.agents.blocks.update("human", agent_id=agent.id, value="v3", extra_headers={"If-Match": etag})
    assert "edited since version" in str(stale.value)
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "v2"
    fresh = httpx.get(live_url + path).headers["etag"]
    assert fresh != etag
    response = httpx.patch(live_url + path, json={"value": "v3", "limit": 900}, headers={"If-Match": fresh})
    assert (
        response.status_code == 200 and response.json()["limit"] == 900 and response.headers["etag"] != fresh
    )
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "v3"
    with pytest.raises(UnprocessableEntityError):
        letta.agents.blocks.update("human", agent_id=agent.id, value="x", extra_headers={"If-Match": "nope"})
    # without If-Match the edit is unconditional, as in Letta
    assert letta.agents.blocks.update("human", agent_id=agent.id, value="v4").value == "v4"
