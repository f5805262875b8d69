"""A worker that keeps fewer agent workflows in memory than there are agents still serves every agent.

Idle agents must not hold worker memory (ENGRAM_WORKFLOW_CACHE_SIZE, issue #9): an evicted workflow is
replayed from its history when it next gets work, and must carry on exactly where it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from engram.config import Settings
from engram.store import messages
from worker import build_worker
from workflows.agent import agent_workflow_id


@pytest.fixture(scope="module")
async def cached_worker(client: Client, loop_settings: Settings, sessions) -> AsyncIterator[Worker]:
    settings = loop_settings.model_copy(update={"workflow_cache_size": 1})
    async with build_worker(client, settings, sessions) as running:
        yield running


@pytest.fixture(scope="module")
def worker(cached_worker: Worker) -> None:  # noqa: ARG001 - the loop fixture's worker is this one
    return None


def _in_memory(worker: Worker) -> int:
    """Workflow instances the worker holds (the SDK's own cache; no public accessor)."""
    return len(worker._workflow_worker._running_workflows)  # noqa: SLF001


async def test_agents_alternating_on_a_one_workflow_cache_each_remember_their_own_turns(loop, client, cached_worker) -> None:
    ada = await loop.agent("engram/offline", agent_type="memgpt_v2_agent")
    bo = await loop.agent("engram/offline", agent_type="memgpt_v2_agent")
    for agent_id, words in ((ada, "My name is Ada and I like chess"), (bo, "My name is Bo and I like go")):
        _, result = await loop.send(agent_id, words)
        assert result is not None and result.status == "completed", result
    for agent_id, name in ((ada, "Ada"), (bo, "Bo"), (ada, "Ada")):
        run_id, result = await loop.send(agent_id, "What is my name?")
        assert result is not None and result.status == "completed", result
        async with loop.sessions() as s:
            said = [c["function"]["arguments"] for r in await messages.run_messages(s, loop.org_id, run_id)
                    for c in r.tool_calls or [] if c["function"]["name"] == "send_message"]  # fmt: skip
        assert any(name in a for a in said), said
    # both conversations are still open (idle, waiting for a message), and at most one is held in memory
    for agent_id in (ada, bo):
        described = await client.get_workflow_handle(agent_workflow_id(agent_id)).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
    assert _in_memory(cached_worker) <= 1
