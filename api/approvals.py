"""Cancel of a pending approval: deny the waiting calls in the database at once, then tell the workflow.

The denial is written here (not only by the workflow) so a client that cancels and immediately sends a new
message never meets a stale 409; the workflow's own denial then finds nothing left to do.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.approvals import deny_pending
from engram.tools import approvals


async def cancel_pending_approval(
    sessions: async_sessionmaker[AsyncSession], temporal: Client, org_id: str, agent_id: str,
    conversation_id: str | None, wanted: set[str] | None = None,
) -> str | None:  # fmt: skip
    """Deny what the thread waits for (when `wanted` is None or names its run); returns that run's id."""
    from api import workflow_client

    async with sessions.begin() as session:
        pending = await approvals.find_pending(session, org_id, agent_id, conversation_id)
        if pending is None or (wanted is not None and pending.run_id not in wanted):
            return None
        await deny_pending(session, org_id, agent_id, conversation_id, approvals.CANCEL_REASON,
                           only_run_id=pending.run_id)  # fmt: skip
        await approvals.mark_request_cancelled(session, org_id, pending.run_id)
    await workflow_client.cancel_run(temporal, agent_id=agent_id, run_id=pending.run_id, conversation_id=conversation_id)
    return pending.run_id
