"""Row ids of one step, derived from run id + step index, so every retry and replay writes the same rows."""

from __future__ import annotations

from engram.ids import derived_id


def step_id(run_id: str, step_index: int) -> str:
    return derived_id("step", run_id, str(step_index))


def assistant_message_id(run_id: str, step_index: int) -> str:
    return derived_id("message", run_id, str(step_index), "assistant")


def tool_message_id(run_id: str, step_index: int, tool_call_id: str) -> str:
    return derived_id("message", run_id, str(step_index), "tool", tool_call_id)


def heartbeat_message_id(run_id: str, step_index: int) -> str:
    return derived_id("message", run_id, str(step_index), "heartbeat")


def memory_op_id(run_id: str, step_index: int, tool_call_id: str) -> str:
    return f"{run_id}:{step_index}:{tool_call_id}"
