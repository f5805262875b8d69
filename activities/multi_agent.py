"""The worker's `Courier` for the multi-agent tools: agent lookup (organization-scoped), delivery as a run of
the other agent on its own workflow, and the wait for that run, heartbeating the tools activity."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import agent_turns
from engram.config import Settings
from engram.ids import derived_uuid, id_from_uuid
from engram.letta_messages import to_letta_messages
from engram.store import messages as message_store
from engram.store import runs
from engram.store.models import Agent
from engram.tools.multi_agent import AGENT_RUN_MAX_STEPS, CHAIN_KEY, AgentRef, Delivery


class TemporalCourier:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings, org_id: str, sender: Agent) -> None:
        self.sessions = sessions
        self.settings = settings
        self.org_id = org_id
        self.sender_id = sender.id
        self.sender_name = sender.name

    async def find_agent(self, agent_id: str) -> AgentRef | None:
        async with self.sessions() as session:
            agent = await session.scalar(select(Agent).where(Agent.id == agent_id, Agent.organization_id == self.org_id))
        return AgentRef(agent.id, agent.name) if agent is not None and not agent.is_disabled else None

    async def agents_with_tags(self, match_all: list[str], match_some: list[str]) -> list[AgentRef]:
        query = select(Agent).where(Agent.organization_id == self.org_id, Agent.is_disabled.is_(False))
        if match_all:
            query = query.where(Agent.tags.contains(match_all))
        if match_some:
            query = query.where(Agent.tags.overlap(match_some))
        async with self.sessions() as session:
            agents = list(await session.scalars(query.order_by(Agent.created_at, Agent.id)))
        return [AgentRef(a.id, a.name) for a in agents]

    async def deliver(self, target: AgentRef, text: str, *, run_id: str, chain: list[str], wait: bool,
                      timeout_s: float) -> Delivery:  # fmt: skip
        async with self.sessions.begin() as session:
            run = await runs.find_run(session, self.org_id, run_id)
            if run is None:
                message = {"id": id_from_uuid("message", derived_uuid("agent-message-input", run_id)), "role": "user",
                           "content": text, "name": self.sender_name, "sender_id": self.sender_id}  # fmt: skip
                run = await runs.create_run(
                    session, self.org_id, target.id, run_id=run_id, input_messages=[message], background=True,
                    run_type="send_message_to_agent", request_config={"max_steps": AGENT_RUN_MAX_STEPS, CHAIN_KEY: chain},
                )  # fmt: skip
                run.metadata_ = {"sender_agent_id": self.sender_id, "waits_for_reply": wait}
            status = run.status
        if status not in runs.TERMINAL_STATUSES:
            try:
                await agent_turns.submit(activity.client(), self.settings, self.org_id, target.id, run_id,
                                         AGENT_RUN_MAX_STEPS, self.sessions)  # fmt: skip
            except agent_turns.TurnRejected as exc:
                async with self.sessions.begin() as session:
                    await runs.mark_terminal(session, self.org_id, run_id, status="failed", stop_reason="error",
                                             usage={}, error={"error_type": "rejected", "message": str(exc)})  # fmt: skip
                return Delivery(run_id, "failed")
        if not wait:
            return Delivery(run_id, status if status in runs.TERMINAL_STATUSES else None)
        finished = await agent_turns.wait_for_run(self.sessions, self.org_id, run_id, timeout_s)
        if finished is None:
            return Delivery(run_id, None)
        return Delivery(run_id, finished.status, await self._replies(run_id))

    async def _replies(self, run_id: str) -> list[str]:
        async with self.sessions() as session:
            rows = await message_store.run_output_messages(session, self.org_id, run_id)
        texts: list[str] = []
        for row in rows:
            for message in to_letta_messages(row):
                content: Any = message.get("content")
                if message.get("message_type") == "assistant_message" and isinstance(content, str) and content:
                    texts.append(content)
        return texts
