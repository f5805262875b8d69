"""`GET /v1/agents/{agent_id}/context`: the context-window overview (Letta's deprecated-but-served route).

The console's context bar reads the same service (`engram.context.overview`), so both always agree.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from api.schemas.context import ContextWindowOverview
from engram.context.overview import context_overview

router = APIRouter(tags=["agents"])


@router.get("/agents/{agent_id}/context", response_model=ContextWindowOverview)
async def retrieve_agent_context_window(
    agent: AgentDep, session: SessionDep, actor: ActorDep, conversation_id: str | None = None
) -> ContextWindowOverview:
    """What the agent's next LLM call would carry, section by section; `conversation_id` picks that thread."""
    if conversation_id is not None:
        require_id(conversation_id, "conv", "conversation_id")
    return ContextWindowOverview.from_domain(
        await context_overview(session, actor.org_id, agent.id, conversation_id)
    )
