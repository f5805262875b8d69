"""What both the LLM step and tool execution read about a run: agent, tools, rules, calls so far.

Also the loop-style decisions shared by both (Letta's V2 heartbeat loop vs letta_v1), kept here so
the two activities cannot disagree.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities.step_ids import assistant_message_id
from engram.llm.base import ToolSpec
from engram.store import agents as agent_store
from engram.store import messages as message_store
from engram.store import runs
from engram.store import tools as tool_store
from engram.store.models import Agent, Message, Run, Tool
from engram.tools import approvals
from engram.tools import rules as tool_rules

HEARTBEAT_AGENT_TYPES = ("memgpt_agent", "memgpt_v2_agent", "sleeptime_agent")
REQUEST_HEARTBEAT = "request_heartbeat"
HEARTBEAT_DESCRIPTION = (
    "Request an immediate heartbeat after function execution. You MUST set this value to `True` if you want "
    "to send a follow-up message or run a follow-up function."
)


@dataclass
class RunConfig:
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"

    @classmethod
    def of(cls, run: Run) -> RunConfig:
        cfg = run.request_config or {}
        return cls(
            use_assistant_message=cfg.get("use_assistant_message", True) is not False,
            assistant_message_tool_name=cfg.get("assistant_message_tool_name") or "send_message",
            assistant_message_tool_kwarg=cfg.get("assistant_message_tool_kwarg") or "message",
        )

    def wire_kwargs(self) -> dict[str, Any]:
        return {
            "use_assistant_message": self.use_assistant_message,
            "assistant_message_tool_name": self.assistant_message_tool_name,
            "assistant_message_tool_kwarg": self.assistant_message_tool_kwarg,
        }


@dataclass
class TurnState:
    agent: Agent
    run: Run
    config: RunConfig
    tools: list[Tool]
    run_rows: list[Message] = field(default_factory=list)
    approval_overrides: dict[str, bool | None] = field(default_factory=dict)

    @property
    def client_tools(self) -> list[dict[str, Any]]:
        """The run's `client_tools` not shadowed by an attached tool of the same name."""
        attached = {t.name for t in self.tools}
        wanted = (self.run.request_config or {}).get("client_tools") or []
        return [t for t in wanted if isinstance(t, dict) and t.get("name") and t["name"] not in attached]

    @property
    def approval_names(self) -> frozenset[str]:
        """Tools whose calls stop the run until the client answers (approval rule/setting, client tools)."""
        return approvals.approval_names(self.rules, self.tools, self.approval_overrides,
                                        [t["name"] for t in self.client_tools])  # fmt: skip

    @property
    def rules(self) -> list[dict[str, Any]]:
        return list(self.agent.tool_rules or [])

    @property
    def uses_heartbeats(self) -> bool:
        return self.agent.agent_type in HEARTBEAT_AGENT_TYPES

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools] + [t["name"] for t in self.client_tools]

    def calls_before(self, step_index: int) -> list[str]:
        """Names of tools called in this run by steps before `step_index` (the rules' history)."""
        earlier = {assistant_message_id(self.run.id, i) for i in range(step_index)}
        names: list[str] = []
        for row in self.run_rows:
            if row.id in earlier:
                names += [c["function"]["name"] for c in row.tool_calls or []]
        return names

    def last_tool_output(self) -> str | None:
        tool_rows = [r for r in self.run_rows if r.role == "tool"]
        if not tool_rows:
            return None
        return (tool_rows[-1].tool_returns or [{}])[0].get("func_response")

    def tool_specs(self, allowed: list[str]) -> list[ToolSpec]:
        client = [(t["name"], t.get("description"), {"parameters": t.get("parameters")}) for t in self.client_tools]
        specs = []
        for name, description, raw_schema in [(t.name, t.description, t.json_schema) for t in self.tools] + client:
            if name not in allowed:
                continue
            schema = copy.deepcopy(raw_schema or {})
            params = schema.get("parameters") or {"type": "object", "properties": {}, "required": []}
            if self.uses_heartbeats and not tool_rules.is_terminal(self.rules, name):
                params.setdefault("properties", {})[REQUEST_HEARTBEAT] = {"type": "boolean", "description": HEARTBEAT_DESCRIPTION}
                params["required"] = [*params.get("required", []), REQUEST_HEARTBEAT]
            specs.append(ToolSpec(name=name, description=description or schema.get("description", ""), parameters=params))
        return specs


async def load_turn_state(session: AsyncSession, org_id: str, agent_id: str, run_id: str) -> TurnState:
    agent = await agent_store.get_agent(session, org_id, agent_id)
    run = await runs.get_run(session, org_id, run_id)
    tools = await tool_store.list_agent_tools(session, org_id, agent_id)
    rows = await message_store.run_messages(session, org_id, run_id)
    overrides = await approvals.approval_overrides(session, org_id, agent_id)
    return TurnState(agent, run, RunConfig.of(run), tools, rows, overrides)
