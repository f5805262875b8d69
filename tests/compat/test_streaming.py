"""Resumable SSE through the real letta-client: replay + live tail of a run's event log in Postgres.

The first tests write the log directly (as the agent loop would), so what is checked is exactly the reader:
resume after a dropped connection yields only the missing chunks, a second viewer sees the same stream, a run
that dies without its terminal events still ends. The last tests stream real turns of the offline model.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest
from letta_client import APIStatusError, AsyncLetta, Letta
from letta_client.types.agents.letta_streaming_response import (
    LettaPing,
    LettaStopReason,
    LettaUsageStatistics,
)

from engram.ids import DEFAULT_ORG_ID, new_id
from engram.schemas.agent import AgentSpec
from engram.store import agents as agents_repo
from engram.store import run_events, runs

LLM = {"model": "offline", "model_endpoint_type": "openai", "context_window": 32000}


def _assistant(run_id: str, mid: str, text: str, otid: str) -> dict[str, Any]:
    return {"id": mid, "date": "2026-01-01T00:00:00+00:00", "message_type": "assistant_message", "content": text,
            "otid": otid, "run_id": run_id}  # fmt: skip


async def _agent_and_run(sessions: Any) -> tuple[str, str]:
    async with sessions.begin() as s:
        agent = await agents_repo.create_agent(s, DEFAULT_ORG_ID, AgentSpec(name="s", model="engram/offline"),
                                               llm_config=LLM)  # fmt: skip
        run = await runs.create_run(s, DEFAULT_ORG_ID, agent.id, input_messages=[], request_config={})
    return agent.id, run.id


async def _append(sessions: Any, run_id: str, events: list[tuple[str, str, dict]]) -> None:
    async with sessions.begin() as s:
        await run_events.append_events(s, DEFAULT_ORG_ID, run_id, events)


async def _finish(sessions: Any, run_id: str, status: str = "completed", stop: str = "end_turn") -> None:
    async with sessions.begin() as s:
        await runs.mark_terminal(s, DEFAULT_ORG_ID, run_id, status=status, stop_reason=stop, usage={})


def _words(run_id: str, n: int) -> list[tuple[str, str, dict]]:
    mid = new_id("message")
    return [(f"d{i}", "message", _assistant(run_id, mid, f"w{i} ", f"otid-{i}")) for i in range(n)]


TERMINAL = [
    ("stop", "stop_reason", {"message_type": "stop_reason", "stop_reason": "end_turn"}),
    ("usage", "usage", {"completion_tokens": 1, "prompt_tokens": 2, "total_tokens": 3, "step_count": 1}),
    ("done", "done", {}),
]


async def test_resume_after_dropping_the_connection_yields_exactly_the_missing_chunks(
    sessions: Any, aletta: AsyncLetta
) -> None:
    _, run_id = await _agent_and_run(sessions)
    await _append(sessions, run_id, _words(run_id, 6))

    first = await aletta.runs.messages.stream(run_id)
    seen: list[int] = []
    async for chunk in first:
        if isinstance(chunk, LettaPing):
            assert chunk.run_id == run_id
            continue
        seen.append(chunk.seq_id)  # type: ignore[union-attr]
        if len(seen) == 3:
            break
    await first.close()  # the client drops the connection mid-way
    assert seen == [1, 2, 3]

    await _append(sessions, run_id, TERMINAL)
    resumed = await aletta.runs.messages.stream(run_id, starting_after=seen[-1], include_pings=False)
    rest = [c async for c in resumed]
    assert [c.seq_id for c in rest] == [4, 5, 6, 7, 8]  # type: ignore[union-attr]
    assert [c.content for c in rest[:3]] == ["w3 ", "w4 ", "w5 "]  # type: ignore[union-attr]
    assert isinstance(rest[-2], LettaStopReason) and rest[-2].stop_reason == "end_turn"
    assert isinstance(rest[-1], LettaUsageStatistics) and rest[-1].total_tokens == 3


async def test_two_viewers_see_the_same_live_stream(sessions: Any, letta: Letta) -> None:
    _, run_id = await _agent_and_run(sessions)
    results: dict[str, list[Any]] = {}

    def view(name: str) -> None:
        results[name] = [c for c in letta.runs.messages.stream(run_id) if not isinstance(c, LettaPing)]

    viewers = [threading.Thread(target=view, args=(n,)) for n in ("a", "b")]
    for t in viewers:
        t.start()
    await asyncio.sleep(0.3)  # both are tailing an empty log now; what follows arrives live
    await _append(sessions, run_id, _words(run_id, 3))
    await _append(sessions, run_id, TERMINAL)
    for t in viewers:
        await asyncio.to_thread(t.join, 30)
    assert [c.seq_id for c in results["a"]] == [1, 2, 3, 4, 5]
    assert [c.model_dump() for c in results["a"]] == [c.model_dump() for c in results["b"]]


async def test_a_run_that_died_without_terminal_events_still_ends(sessions: Any, aletta: AsyncLetta) -> None:
    _, run_id = await _agent_and_run(sessions)
    await _append(sessions, run_id, _words(run_id, 1))
    await _finish(sessions, run_id, status="failed", stop="llm_api_error")
    chunks: list[Any] = []
    with pytest.raises(APIStatusError) as err:
        async for chunk in await aletta.runs.messages.stream(run_id, include_pings=False):
            chunks.append(chunk)
    assert isinstance(chunks[-1], LettaStopReason) and chunks[-1].stop_reason == "llm_api_error"
    assert err.value.body["error_type"] == "stream_incomplete"  # type: ignore[index]
    assert err.value.body["run_id"] == run_id  # type: ignore[index]


async def test_stream_headers_disable_buffering(sessions: Any, live_url: str) -> None:
    _, run_id = await _agent_and_run(sessions)
    await _append(sessions, run_id, TERMINAL)
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{live_url}/v1/runs/{run_id}/stream", json={"include_pings": False})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    assert response.text.endswith("data: [DONE]\n\n")
    first = json.loads(response.text.split("\n", 1)[0].removeprefix("data: "))
    assert first == {"message_type": "stop_reason", "stop_reason": "end_turn", "seq_id": 1, "run_id": run_id}


async def test_unknown_or_malformed_run_ids(aletta: AsyncLetta) -> None:
    from letta_client import NotFoundError, UnprocessableEntityError

    with pytest.raises(NotFoundError):
        await aletta.runs.messages.stream(new_id("run"))
    with pytest.raises(UnprocessableEntityError):
        await aletta.runs.retrieve("run-nope")
