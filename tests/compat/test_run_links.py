"""A run links to the Temporal workflow that executed it (run `metadata.temporal`), so an operator can go from
a Letta run id straight to its workflow history in the Temporal UI."""

from __future__ import annotations

import uuid

import pytest
from letta_client import Letta

from engram.config import Settings

pytestmark = pytest.mark.usefixtures("worker_running")


def test_completed_run_names_its_temporal_workflow(letta: Letta, settings: Settings) -> None:
    agent = letta.agents.create(
        name=f"links-{uuid.uuid4().hex[:6]}", model="engram/offline",
        memory_blocks=[{"label": "human", "value": "Sam"}, {"label": "persona", "value": "Helpful."}],
    )  # fmt: skip
    response = letta.agents.messages.create(agent.id, input="Hi there")
    run_id = response.usage.run_ids[0]  # type: ignore[index]

    run = letta.runs.retrieve(run_id)
    temporal = (run.metadata or {})["temporal"]
    assert run.status == "completed" and temporal["workflow_id"] == f"agent:{agent.id}"
    assert temporal["run_id"] and temporal["ui_url"].endswith(f"/workflows/agent:{agent.id}/{temporal['run_id']}/history")
    assert temporal["ui_url"].startswith(settings.temporal_ui_base.rstrip("/"))
    listed = {r.id: r for r in letta.runs.list(agent_id=agent.id)}
    assert (listed[run_id].metadata or {})["temporal"] == temporal
