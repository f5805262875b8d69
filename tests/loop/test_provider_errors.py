"""Provider failures end the run cleanly: retried by Temporal's policy when retrying can help, never
retried by the SDK, and always closed with error, stop_reason, usage and done events."""

from __future__ import annotations

import uuid

from engram.store import run_events, runs
from tests.fake_llm import FakeReply


async def _events(loop, run_id: str) -> list[str]:
    async with loop.sessions() as s:
        return [e.kind for e in await run_events.read_events(s, run_id, 0)]


async def _assert_failed_with_llm_api_error(loop, run_id: str) -> None:
    async with loop.sessions() as s:
        run = await runs.get_run(s, loop.org_id, run_id)
    assert (run.status, run.stop_reason) == ("failed", "llm_api_error")
    assert (await _events(loop, run_id))[-4:] == ["error", "stop_reason", "usage", "done"]


async def test_server_errors_are_retried_then_end_the_run_with_llm_api_error(loop, fake_llm) -> None:
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [FakeReply.http_error(500, repeat=True)])
    agent_id = await loop.agent(f"openai/{model}")
    fast_retries = loop.workflow_input(agent_id, llm_retry_initial_interval_s=0.1)  # same 4 attempts, short backoff
    run_id, result = await loop.send(agent_id, "hello", workflow_input=fast_retries)
    assert result.stop_reason == "llm_api_error"
    await _assert_failed_with_llm_api_error(loop, run_id)
    assert len(fake_llm.requests(model)) == 4  # Temporal's attempts, one HTTP request each (SDK retries off)


async def test_auth_error_is_not_retried(loop, fake_llm) -> None:
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [FakeReply.http_error(401, repeat=True)])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, result = await loop.send(agent_id, "hello")
    assert result.stop_reason == "llm_api_error"
    await _assert_failed_with_llm_api_error(loop, run_id)
    assert len(fake_llm.requests(model)) == 1
