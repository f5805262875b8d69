"""Stored message rows -> Letta wire messages (reference A.6, A.9).

One row expands into several LettaMessages that share the row id. Each gets an otid made from the
row's uuid with its low 7 bits replaced by a fixed sub-index per part, so a streamed delta and the
listed message carry the same otid: reasoning 0, assistant text 1, tool call i -> 2 + i.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from engram.store.models import Message

REASONING_SUB = 0
TEXT_SUB = 1
TOOL_CALL_SUB = 2
APPROVAL_MARKER = "requires_approval"  # engram.tools.approvals.MARKER (kept import-free here)


def otid_for(message_id: str, sub_index: int) -> str:
    """Letta's otid: the row uuid with its low 7 bits set to the part index (0..127)."""
    raw = uuid.UUID(message_id.split("-", 1)[1]).int
    return str(uuid.UUID(int=(raw & ~0x7F) | (sub_index & 0x7F)))


def _base(row: Message, message_type: str, sub_index: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "date": row.created_at.isoformat(),
        "message_type": message_type,
        "otid": otid_for(row.id, sub_index),
        "run_id": row.run_id,
        "step_id": row.step_id,
        "name": row.name if row.role == "user" else None,
        "sender_id": row.sender_id,
        "is_err": row.is_err or None,
    }


def assistant_kwarg(arguments: str, kwarg: str) -> str | None:
    """The `message` argument of a send_message call, or None when the arguments do not parse."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return None
    value = parsed.get(kwarg) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


def tool_call_message(row: Message, index: int, call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function", {})
    wire_call = {"name": fn.get("name"), "arguments": fn.get("arguments", ""), "tool_call_id": call.get("id")}
    return {**_base(row, "tool_call_message", TOOL_CALL_SUB + index), "tool_call": wire_call, "tool_calls": [wire_call]}


def _user_content(row: Message) -> Any:
    parts = row.content or []
    if all(p.get("type") == "text" for p in parts):
        return row.text
    return parts


def to_letta_messages(
    row: Message, *, use_assistant_message: bool = True, assistant_message_tool_name: str = "send_message",
    assistant_message_tool_kwarg: str = "message",
) -> list[dict]:  # fmt: skip
    """The LettaMessages of one row; a send_message tool return renders as nothing (A.9)."""
    if row.role == "system":
        return [{**_base(row, "system_message", 0), "content": row.text}]
    if row.role == "user":
        msg = {**_base(row, "user_message", 0), "content": _user_content(row)}
        if row.otid:
            msg["otid"] = row.otid
        return [msg]
    if row.role == "summary":
        return [{**_base(row, "user_message", 0), "content": row.text}]
    if row.role == "approval":
        return [approval_response_message(row)]
    if row.role == "tool":
        if use_assistant_message and row.name == assistant_message_tool_name:
            return []
        return [tool_return_message(row)]
    out: list[dict] = []
    if row.reasoning:
        out.append({**_base(row, "reasoning_message", REASONING_SUB), "reasoning": row.reasoning, "source": "reasoner_model"})
    if row.text:
        out.append({**_base(row, "assistant_message", TEXT_SUB), "content": row.text})
    waiting = [(i, c) for i, c in enumerate(row.tool_calls or []) if c.get(APPROVAL_MARKER)]
    for i, call in enumerate(row.tool_calls or []):
        if call.get(APPROVAL_MARKER):
            continue  # one approval_request_message for every call that waits, after the others (Letta's order)
        name = call.get("function", {}).get("name")
        if use_assistant_message and name == assistant_message_tool_name:
            said = assistant_kwarg(call.get("function", {}).get("arguments", ""), assistant_message_tool_kwarg)
            if said is not None:
                out.append({**_base(row, "assistant_message", TOOL_CALL_SUB + i), "content": said})
                continue
        out.append(tool_call_message(row, i, call))
    if waiting:
        out.append(approval_request_message(row, waiting))
    return out


def _wire_call(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function", {})
    return {"name": fn.get("name"), "arguments": fn.get("arguments", ""), "tool_call_id": call.get("id")}


def approval_request_message(row: Message, waiting: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Calls that wait for the client (approval or client-side tool), as one message (reference A.8)."""
    calls = [_wire_call(c) for _, c in waiting]
    return {**_base(row, "approval_request_message", TOOL_CALL_SUB + waiting[0][0]), "tool_call": calls[0],
            "tool_calls": calls}  # fmt: skip


def approval_response_message(row: Message) -> dict[str, Any]:
    """The client's decisions (and client-side tool results), with Letta's legacy single-decision fields."""
    approvals = [dict(a) for a in row.approvals or []]
    first = approvals[0] if approvals else {}
    msg = {**_base(row, "approval_response_message", 0), "approvals": approvals,
           "approval_request_id": first.get("tool_call_id")}  # fmt: skip
    if first.get("type") == "approval":
        msg["approve"], msg["reason"] = first.get("approve"), first.get("reason")
    if row.otid:
        msg["otid"] = row.otid
    return msg


def tool_return_message(row: Message) -> dict[str, Any]:
    ret = (row.tool_returns or [{}])[0]
    status = ret.get("status", "success")
    body = ret.get("func_response", row.text)
    return {
        **_base(row, "tool_return_message", 0),
        "tool_return": body,
        "status": status,
        "tool_call_id": row.tool_call_id or "",
        "name": row.name,
        "stdout": ret.get("stdout"),
        "stderr": ret.get("stderr"),
        "tool_returns": [
            {"tool_call_id": row.tool_call_id or "", "status": status, "tool_return": body,
             "stdout": ret.get("stdout"), "stderr": ret.get("stderr"), "type": "tool"}
        ],
    }  # fmt: skip
