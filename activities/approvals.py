"""Approval bookkeeping for the agent loop: find the step an approval turn answers; deny a pending step.

Both are short DB operations, run as local activities. A denial writes one error tool return per waiting
call with the same row id the tools activity would use (`tool_message_id(run, step, call)`), so a
denial racing an approval (cancel vs approve) leaves one result per call, never two.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import step_ids
from activities.contracts import (
    DENY_PENDING_APPROVAL,
    FIND_PENDING_APPROVAL,
    DenyApprovalInput,
    PendingApprovalInput,
    PendingApprovalRef,
)
from activities.errors import to_application_error
from engram.context.compiler import packaged_tool_result
from engram.store import agents as agent_store
from engram.store import messages as message_store
from engram.store import runs as run_store
from engram.store.models.base import utcnow
from engram.tools import approvals


async def deny_pending(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None, reason: str,
    *, only_run_id: str | None = None,
) -> approvals.PendingApproval | None:  # fmt: skip
    """Write error tool returns for the calls the thread waits on; returns what was denied (None: nothing)."""
    pending = await approvals.find_pending(session, org_id, agent_id, conversation_id)
    if pending is None or (only_run_id is not None and pending.run_id != only_run_id):
        return None
    row = await message_store.get_message(session, org_id, pending.message_id)
    step_index = approvals.step_index_of(row)
    agent = await agent_store.get_agent(session, org_id, agent_id)
    now = utcnow()
    text = approvals.denial_text(reason)
    rows = []
    for call in pending.calls:
        rows.append({
            "id": step_ids.tool_message_id(pending.run_id, step_index, call["id"]), "organization_id": org_id,
            "agent_id": agent_id, "conversation_id": conversation_id, "role": "tool", "name": call["function"]["name"],
            "tool_call_id": call["id"], "content": [{"type": "text", "text": packaged_tool_result(False, text, now, agent.timezone)}],
            "text": text, "run_id": pending.run_id, "step_id": step_ids.step_id(pending.run_id, step_index),
            "created_at": now, "is_err": False,
            "tool_returns": [{"tool_call_id": call["id"], "status": "error", "func_response": text, "stdout": None,
                              "stderr": None}],
        })  # fmt: skip
    await message_store.insert_messages(session, rows)
    return pending


class ApprovalActivities:
    """Local activities of the approval wait; the worker builds one with the process's session factory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=FIND_PENDING_APPROVAL)
    async def find_pending_approval(self, inp: PendingApprovalInput) -> PendingApprovalRef:
        try:
            async with self.sessions() as session:
                run = await run_store.get_run(session, inp.org_id, inp.run_id)
                pending = await approvals.find_pending(session, inp.org_id, inp.agent_id, inp.conversation_id)
                decisions = [d for m in run.input_messages or [] if isinstance(m, dict)
                             and m.get("type") in approvals.APPROVAL_TYPES for d in m.get("approvals") or []]  # fmt: skip
                try:
                    approvals.check_decisions(pending, decisions)
                except approvals.ApprovalError as exc:
                    return PendingApprovalRef(error=str(exc))
                assert pending is not None
                row = await message_store.get_message(session, inp.org_id, pending.message_id)
                return PendingApprovalRef(run_id=pending.run_id, step_index=approvals.step_index_of(row))
        except Exception as exc:
            raise to_application_error(exc)  # noqa: B904 - the cause is chained inside

    @activity.defn(name=DENY_PENDING_APPROVAL)
    async def deny_pending_approval(self, inp: DenyApprovalInput) -> bool:
        try:
            async with self.sessions.begin() as session:
                denied = await deny_pending(session, inp.org_id, inp.agent_id, inp.conversation_id, _reason(inp),
                                            only_run_id=inp.run_id)  # fmt: skip
                return denied is not None
        except Exception as exc:
            raise to_application_error(exc)  # noqa: B904 - the cause is chained inside


def _reason(inp: DenyApprovalInput) -> str:
    if inp.cause == "timeout":
        return approvals.timeout_reason(inp.timeout_s or 0)
    if inp.cause == "superseded":
        return approvals.SUPERSEDED_REASON
    return approvals.CANCEL_REASON
