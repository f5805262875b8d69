"""Engram extension: the full output of a tool call whose return was cut to the tool's return_char_limit.

The model (and the message list) see the first `return_char_limit` characters plus Letta's truncation
notice, which names the tool-return message; this route returns the whole text kept on that row.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from engram.errors import NotFound
from engram.store import messages as message_store

router = APIRouter(tags=["agents"])


class ToolOutput(BaseModel):
    message_id: str
    tool_call_id: str | None = None
    status: Literal["success", "error"]
    tool_return: str
    is_truncated_for_model: bool
    stdout: list[str] | None = None
    stderr: list[str] | None = None


@router.get("/agents/{agent_id}/messages/{message_id}/tool-output", response_model=ToolOutput)
async def retrieve_tool_output(
    agent: AgentDep, message_id: str, session: SessionDep, actor: ActorDep
) -> ToolOutput:
    row = await message_store.get_message(
        session, actor.org_id, require_id(message_id, "message", "message_id")
    )
    if row.agent_id != agent.id or row.role != "tool":
        raise NotFound("tool return message", f"{message_id} of agent {agent.id}")
    ret = (row.tool_returns or [{}])[0]
    full = ret.get("full_output")
    return ToolOutput(
        message_id=row.id, tool_call_id=row.tool_call_id, status="error" if ret.get("status") == "error" else "success",
        tool_return=full if full is not None else str(ret.get("func_response", row.text)),
        is_truncated_for_model=full is not None, stdout=ret.get("stdout"), stderr=ret.get("stderr"),
    )  # fmt: skip
