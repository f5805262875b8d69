"""`engram chat` output: what a user sees for a turn (reply, tool calls, memory edits), and a clear error
when no stack is running. The round trip against a live stack is in tests/test_stack.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from engram.runtime import free_port
from engram.runtime.chat import format_response

TURN = {
    "messages": [
        {"message_type": "reasoning_message", "reasoning": "The user told me their name."},
        {"message_type": "tool_call_message",
         "tool_call": {"name": "core_memory_append", "tool_call_id": "c1",
                       "arguments": json.dumps({"label": "human", "content": "Name: Ada", "request_heartbeat": True})}},
        {"message_type": "tool_return_message", "tool_return": "None", "status": "success"},
        {"message_type": "tool_call_message",
         "tool_call": {"name": "archival_memory_search", "tool_call_id": "c2", "arguments": '{"query": "ada"}'}},
        {"message_type": "assistant_message", "content": [{"type": "text", "text": "Nice to meet you, Ada!"}]},
    ],
    "stop_reason": {"message_type": "stop_reason", "stop_reason": "end_turn"},
    "usage": {"message_type": "usage_statistics", "step_count": 2},
}  # fmt: skip


def test_a_turn_prints_reasoning_memory_edits_tool_calls_and_the_reply() -> None:
    lines = format_response(TURN)
    assert lines == [
        "  (thinking) The user told me their name.",
        "  [memory edit] core_memory_append(label='human', content='Name: Ada')",
        "  [tool result: success] 'None'",
        "  [tool call] archival_memory_search(query='ada')",
        "assistant> Nice to meet you, Ada!",
    ]


def test_an_unusual_stop_reason_is_shown() -> None:
    turn = {"messages": [], "stop_reason": {"stop_reason": "max_steps"}}
    assert format_response(turn) == ["  (stopped: max_steps)"]


def test_chat_without_a_running_stack_says_so(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "engram.cli", "chat", "--url", url], input="hello\n", cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot reach the Engram API at {url}" in result.stderr and "engram up" in result.stderr


def test_piped_input_is_read_line_by_line() -> None:
    from engram.runtime.chat import _lines

    assert list(_lines(io.StringIO("hi\n\n/quit\n"), interactive=False, out=io.StringIO())) == [
        "hi",
        "",
        "/quit",
    ]
