"""SSE framing of a run's event log, checked without a server: what a letta-client stream parser sees."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from letta_client import Letta

from api.sse import DONE, RenderState, StreamOptions, render_event, stream_run_events, synthesize_ending

RUN = "run-00000000-0000-4000-8000-000000000001"


@dataclass
class Ev:
    seq: int
    kind: str
    payload: dict[str, Any]


def _msg(kind: str, seq: int, text: str, mtype: str = "assistant_message") -> Ev:
    return Ev(seq, kind, {"id": "message-x", "otid": "o-1", "date": "2026-01-01T00:00:00Z", "message_type": mtype,
                          "content": text})  # fmt: skip


LOG = [
    _msg("delta", 1, "Hel"),
    _msg("delta", 2, "lo"),
    _msg("message_final", 3, "Hello"),
    Ev(
        4,
        "message",
        {
            "id": "message-y",
            "date": "2026-01-01T00:00:00Z",
            "message_type": "tool_return_message",
            "tool_return": "ok",
            "status": "success",
            "tool_call_id": "c1",
        },
    ),  # fmt: skip
    Ev(5, "stop_reason", {"message_type": "stop_reason", "stop_reason": "end_turn"}),
    Ev(6, "usage", {"completion_tokens": 3, "prompt_tokens": 5, "total_tokens": 8, "step_count": 1}),
    Ev(7, "done", {}),
]


def _data(chunk: str) -> dict[str, Any]:
    assert chunk.startswith("data: ") and chunk.endswith("\n\n")
    return json.loads(chunk[len("data: ") : -2])


def test_step_streaming_skips_deltas_and_stamps_seq_and_run_id() -> None:
    state = RenderState()
    chunks = [c for e in LOG if (c := render_event(e, RUN, StreamOptions(stream_tokens=False), state))]
    parsed = [_data(c) for c in chunks]
    assert [p["seq_id"] for p in parsed] == [3, 4, 5, 6]
    assert all(p["run_id"] == RUN for p in parsed)
    assert parsed[0]["content"] == "Hello"
    assert parsed[2] == {"message_type": "stop_reason", "stop_reason": "end_turn", "seq_id": 5, "run_id": RUN}
    assert parsed[3]["message_type"] == "usage_statistics" and parsed[3]["run_ids"] == [RUN]
    assert state.done


def test_token_streaming_sends_deltas_not_the_final_copy() -> None:
    state = RenderState()
    chunks = [c for e in LOG if (c := render_event(e, RUN, StreamOptions(stream_tokens=True), state))]
    texts = [_data(c).get("content") for c in chunks[:2]]
    assert texts == ["Hel", "lo"]
    assert [_data(c)["seq_id"] for c in chunks] == [1, 2, 4, 5, 6]


def test_message_type_filter_and_compaction_messages() -> None:
    opts = StreamOptions(include_types=frozenset({"tool_return_message"}))
    state = RenderState()
    assert render_event(LOG[2], RUN, opts, state) is None
    assert render_event(LOG[3], RUN, opts, state) is not None
    summary = Ev(9, "message", {"id": "m", "date": "d", "message_type": "summary_message", "summary": "s"})
    assert render_event(summary, RUN, StreamOptions(), state) is None


def test_error_is_a_named_event_with_required_fields() -> None:
    chunk = render_event(Ev(8, "error", {"error_type": "llm_timeout", "message": "slow"}), RUN, StreamOptions(),
                         RenderState())  # fmt: skip
    assert chunk is not None and chunk.startswith("event: error\ndata: ")
    body = json.loads(chunk.split("data: ", 1)[1])
    assert body == {"message_type": "error_message", "error_type": "llm_timeout", "message": "slow",
                    "run_id": RUN, "seq_id": 8}  # fmt: skip


def test_unknown_stop_reason_never_reaches_the_client() -> None:
    chunk = render_event(Ev(1, "stop_reason", {"stop_reason": "weird"}), RUN, StreamOptions(), RenderState())
    assert chunk is not None and _data(chunk)["stop_reason"] == "error"


def test_synthesized_ending_for_a_dead_run() -> None:
    out = synthesize_ending(RUN, "failed", None, RenderState())
    assert _data(out[0])["stop_reason"] == "error"
    assert out[1].startswith("event: error\n") and '"stream_incomplete"' in out[1]
    assert out[-1] == DONE
    assert synthesize_ending(RUN, "completed", "end_turn", RenderState(saw_stop_reason=True)) == [DONE]


async def _collect(starting_after: int, status: str = "running", log: list[Ev] = LOG) -> list[str]:
    async def read_events(_run_id: str, after: int, limit: int) -> list[Ev]:
        return [e for e in log if e.seq > after][:limit]

    async def read_status(_run_id: str) -> tuple[str | None, str | None]:
        return status, None

    opts = StreamOptions(stream_tokens=True, batch_size=2, poll_interval_s=0.01, terminal_grace_s=0.0)
    return [c async for c in stream_run_events(RUN, starting_after=starting_after, opts=opts, read_events=read_events,
                                               read_status=read_status, hub=None)]  # fmt: skip


async def test_stream_starts_with_a_ping_and_resumes_after_a_seq() -> None:
    full = await _collect(0)
    assert _data(full[0])["message_type"] == "ping" and _data(full[0])["run_id"] == RUN
    assert full[-1] == DONE
    resumed = await _collect(4)
    assert [_data(c)["seq_id"] for c in resumed[1:-1]] == [5, 6]


async def test_stream_of_a_run_that_died_without_done_still_ends() -> None:
    out = await _collect(0, status="failed", log=LOG[:2])
    assert out[-1] == DONE
    assert any(c.startswith("event: error") for c in out)


def test_letta_client_parses_the_framing() -> None:
    """The SDK's own parser turns our chunks into the right classes and raises on `event: error`."""
    state = RenderState()
    body = (
        "".join(c for e in LOG if (c := render_event(e, RUN, StreamOptions(stream_tokens=True), state)))
        + DONE
    )

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    client = Letta(base_url="http://test", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    chunks = list(client.agents.messages.stream("agent-00000000-0000-4000-8000-000000000000", input="hi"))
    names = [type(c).__name__ for c in chunks]
    assert names == ["AssistantMessage", "AssistantMessage", "ToolReturnMessage", "LettaStopReason",
                     "LettaUsageStatistics"]  # fmt: skip
    assert "".join(c.content for c in chunks[:2]) == "Hello"  # type: ignore[union-attr]
