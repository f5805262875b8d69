"""The `execute_tools` activity: run a step's tool calls, store their results, decide whether to go on.

Per tool call one transaction holds the memory edit (CAS + memory_ops) and the tool-return row, so a
retry finds both or neither; a call whose row exists is not run again. Malformed JSON arguments, an
unknown tool, a rule violation or a tool exception become an error tool return and the turn goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import step_ids
from activities.contracts import EXECUTE_TOOLS, ToolsInput, ToolsOutcome
from activities.errors import to_application_error
from activities.multi_agent import TemporalCourier
from activities.schedules import ensure_schedule
from activities.turn_state import REQUEST_HEARTBEAT, TurnState, load_turn_state
from engram.config import Settings
from engram.context.compiler import packaged_tool_result
from engram.letta_messages import to_letta_messages
from engram.store import messages as message_store
from engram.store import run_events
from engram.store import runs as run_store
from engram.store import tools as tool_store
from engram.store.models import Message
from engram.store.models.base import utcnow
from engram.tools import approvals, multi_agent
from engram.tools import rules as tool_rules
from engram.tools.builtin_schemas import BUILTINS_BY_NAME
from engram.tools.executor import ToolContext, ToolResult, can_execute, execute_builtin
from engram.tools.external import EXTERNAL_TOOL_TYPES, ExternalCall, prepare_external_call, run_external_call
from engram.tools.multi_agent import MULTI_AGENT_TOOLS
from engram.tools.wakeup import WAKEUP_TOOL, wakeup_id

HEARTBEAT_REASON = "[This is an automated system message hidden from the user] Function called using request_heartbeat=true, returning control"
FAILED_REASON = "[This is an automated system message hidden from the user] Function call failed, returning control"


@dataclass
class CallResult:
    name: str
    is_error: bool
    wants_heartbeat: bool
    output: str


def parse_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments as a dict; raises ValueError with a message the model can act on."""
    try:
        parsed = json.loads(raw or "{}")
    except ValueError as exc:
        raise ValueError(f"Error parsing tool arguments as JSON: {exc}. Arguments received: {raw[:500]}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"Tool arguments must be a JSON object, got: {raw[:500]}")
    return parsed


class ToolActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings | None = None) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=EXECUTE_TOOLS)
    async def execute_tools(self, inp: ToolsInput) -> ToolsOutcome:
        try:
            return await self._execute(inp)
        except Exception as exc:
            raise to_application_error(exc)  # noqa: B904 - the cause is chained inside

    async def _execute(self, inp: ToolsInput) -> ToolsOutcome:
        assistant_id = step_ids.assistant_message_id(inp.run_id, inp.step_index)
        results: list[CallResult] = []
        async with self.sessions() as session:
            row = await message_store.get_message(session, inp.org_id, assistant_id)
        for call in row.tool_calls or []:
            activity.heartbeat()
            # A call that waited for the client: a denial or the client's own result replaces running it.
            external = await self._client_decision(inp, call) if approvals.is_marked(call) else None
            external = external or await self._run_external(inp, call)  # custom/MCP tools run with no transaction open
            if external is None and call["function"]["name"] in MULTI_AGENT_TOOLS:
                external = await self._run_multi_agent(inp, call)  # so do waits for another agent's reply
            async with self.sessions.begin() as session:
                state = await load_turn_state(session, inp.org_id, inp.agent_id, inp.run_id)
                results.append(await self._run_call(session, inp, state, call, external))
            if call["function"]["name"] == WAKEUP_TOOL:  # row committed: now its Temporal Schedule
                op_id = step_ids.memory_op_id(inp.run_id, inp.step_index, call["id"])
                await ensure_schedule(self.sessions, self.settings, inp.org_id, wakeup_id(op_id))
        async with self.sessions() as session:
            state = await load_turn_state(session, inp.org_id, inp.agent_id, inp.run_id)
        keep, stop_reason, reason = decide(state, inp.step_index, results)
        if keep and inp.is_last_step:
            return ToolsOutcome(False, "max_steps")
        if keep and state.uses_heartbeats:
            async with self.sessions.begin() as session:
                await _append_heartbeat(session, inp, reason)
        return ToolsOutcome(keep, stop_reason)

    async def _client_decision(self, inp: ToolsInput, call: dict[str, Any]) -> ToolResult | None:
        """None when the client approved the call (run it); else the denial or the client's own tool return."""
        if inp.output_run_id is None:
            return ToolResult(approvals.denial_text("the call required approval and none was given"), True)
        async with self.sessions() as session:
            run = await run_store.get_run(session, inp.org_id, inp.output_run_id)
        decided = approvals.decided_result(approvals.decisions_of(run).get(call["id"]))
        if decided is None:
            return None
        return ToolResult(decided.text, decided.is_error, stdout=[decided.stdout] if decided.stdout else [],
                          stderr=[decided.stderr] if decided.stderr else [])  # fmt: skip

    async def _run_external(self, inp: ToolsInput, call: dict[str, Any]) -> ToolResult | None:
        """Run a custom or MCP tool call outside any transaction; None when the call is not one to run here."""
        name = call["function"]["name"]
        row_id = step_ids.tool_message_id(inp.run_id, inp.step_index, call["id"])
        async with self.sessions() as session:
            named = await tool_store.find_tool_by_name(session, inp.org_id, name)
            if named is None or named.tool_type not in EXTERNAL_TOOL_TYPES:
                return None  # built-ins run inside the write transaction, as before
            if await message_store.find_message(session, inp.org_id, row_id) is not None:
                return None
            state = await load_turn_state(session, inp.org_id, inp.agent_id, inp.run_id)
            tool = next((t for t in state.tools if t.name == name), None)
            if tool is None or tool.tool_type not in EXTERNAL_TOOL_TYPES:
                return None
            checked = _check_call(state, inp, name, call["function"].get("arguments") or "")
            if isinstance(checked, ToolResult):
                return None  # _invoke reports the same mistake inside the write transaction
            prepared: ExternalCall = await prepare_external_call(
                session, state.agent, state.tools, tool, checked, tool_call_id=call["id"], message_id=row_id,
                mcp_server=await _mcp_server_of(session, inp.org_id, tool),
            )  # fmt: skip
        return await run_external_call(prepared, self.settings, on_tick=activity.heartbeat)

    async def _run_multi_agent(self, inp: ToolsInput, call: dict[str, Any]) -> ToolResult | None:
        """Message another agent (engram/tools/multi_agent.py); None when the call is done or not allowed now."""
        name = call["function"]["name"]
        row_id = step_ids.tool_message_id(inp.run_id, inp.step_index, call["id"])
        async with self.sessions() as session:
            if await message_store.find_message(session, inp.org_id, row_id) is not None:
                return None
            state = await load_turn_state(session, inp.org_id, inp.agent_id, inp.run_id)
            checked = _check_call(state, inp, name, call["function"].get("arguments") or "")
            if isinstance(checked, ToolResult):
                return None  # _invoke reports the same mistake inside the write transaction
            chain = [str(a) for a in (state.run.request_config or {}).get(multi_agent.CHAIN_KEY) or []]
            courier = TemporalCourier(self.sessions, self.settings, inp.org_id, state.agent)
        op_id = step_ids.memory_op_id(inp.run_id, inp.step_index, call["id"])
        text, is_error = await multi_agent.execute(multi_agent.MultiAgentCall(inp.agent_id, op_id, chain, courier), name, checked)
        return ToolResult(text, is_error)

    async def _run_call(
        self, session: AsyncSession, inp: ToolsInput, state: TurnState, call: dict[str, Any],
        external: ToolResult | None = None,
    ) -> CallResult:  # fmt: skip
        name = call["function"]["name"]
        row_id = step_ids.tool_message_id(inp.run_id, inp.step_index, call["id"])
        done = await message_store.find_message(session, inp.org_id, row_id)
        raw_args = call["function"].get("arguments") or ""
        if done is not None:
            ret = (done.tool_returns or [{}])[0]
            return CallResult(name, ret.get("status") == "error", _wants_heartbeat(raw_args), ret.get("func_response", ""))
        result = await self._invoke(session, inp, state, call, name, raw_args, external)
        now = utcnow()
        packaged = packaged_tool_result(not result.is_error, result.text, now, state.agent.timezone)
        await message_store.insert_messages(session, [{
            "id": row_id, "organization_id": inp.org_id, "agent_id": inp.agent_id, "conversation_id": inp.conversation_id,
            "role": "tool", "name": name, "tool_call_id": call["id"], "content": [{"type": "text", "text": packaged}],
            "text": result.text, "run_id": inp.output_run_id or inp.run_id, "step_id": step_ids.step_id(inp.run_id, inp.step_index),
            "created_at": now, "is_err": False,
            "tool_returns": [{"tool_call_id": call["id"], "status": "error" if result.is_error else "success",
                              "func_response": result.text, "stdout": result.stdout or None, "stderr": result.stderr or None,
                              **({"full_output": result.full_text} if result.full_text is not None else {})}],
        }])  # fmt: skip
        stored = await message_store.get_message(session, inp.org_id, row_id)
        await _write_events(session, inp, state, stored)
        return CallResult(name, result.is_error, _wants_heartbeat(raw_args), result.text)

    async def _invoke(
        self, session: AsyncSession, inp: ToolsInput, state: TurnState, call: dict[str, Any], name: str, raw_args: str,
        external: ToolResult | None = None,
    ) -> ToolResult:  # fmt: skip
        if external is not None and approvals.is_marked(call):
            return external  # the client's decision or result (or the approved external tool's): nothing to check
        checked = _check_call(state, inp, name, raw_args)
        if isinstance(checked, ToolResult):
            return checked
        if external is not None:
            return external
        args = checked
        if not can_execute(name):
            builtin = BUILTINS_BY_NAME.get(name)
            reason = builtin.unavailable if builtin and builtin.unavailable else "custom tools are not supported yet"
            return ToolResult(f"Error: tool '{name}' is not available on this server ({reason})", True)
        op_id = step_ids.memory_op_id(inp.run_id, inp.step_index, call["id"])
        ctx = ToolContext(session, inp.org_id, inp.agent_id, op_id, settings=self.settings,
                          conversation_id=inp.conversation_id)
        return await execute_builtin(ctx, name, args)


def _check_call(state: TurnState, inp: ToolsInput, name: str, raw_args: str) -> ToolResult | dict[str, Any]:
    """The call's arguments if it may run now; else the error result the model gets (unknown tool, rule, bad JSON)."""
    history = state.calls_before(inp.step_index)
    allowed = tool_rules.allowed_tools(state.rules, state.tool_names, history, state.last_tool_output())
    if name not in state.tool_names:
        return ToolResult(f"Error: tool '{name}' does not exist. Available tools: {', '.join(state.tool_names)}", True)
    if name not in allowed.names:
        return ToolResult(
            f"Error: tool rule violation: '{name}' may not be called now. Allowed tools: {', '.join(allowed.names)}", True
        )
    try:
        args = parse_arguments(raw_args)
    except ValueError as exc:
        return ToolResult(str(exc), True)
    args.pop(REQUEST_HEARTBEAT, None)
    return args


async def _mcp_server_of(session: AsyncSession, org_id: str, tool: Any) -> Any:
    if tool.tool_type != "external_mcp":
        return None
    from engram.store.mcp_servers import server_for_tool

    return await server_for_tool(session, org_id, tool)


def _wants_heartbeat(raw_args: str) -> bool:
    try:
        value = json.loads(raw_args or "{}").get(REQUEST_HEARTBEAT)
    except (ValueError, AttributeError):
        return False
    return value is True or (isinstance(value, str) and value.lower() == "true")


def decide(state: TurnState, step_index: int, results: list[CallResult]) -> tuple[bool, str | None, str]:
    """(keep stepping, stop reason if not, heartbeat reason) after a step's tool calls (reference B.4)."""
    rules = state.rules
    history = state.calls_before(step_index + 1)
    if not state.uses_heartbeats:  # letta_v1: any tool call continues unless a terminal tool was called
        if any(tool_rules.is_terminal(rules, r.name) and not r.is_error for r in results):
            return False, "tool_rule", ""
        return True, None, ""
    if any(r.is_error for r in results):
        return True, None, FAILED_REASON
    keep = any(r.wants_heartbeat for r in results)
    for r in results:
        if tool_rules.is_terminal(rules, r.name):
            return False, ("tool_rule" if keep else "end_turn"), ""
    if any(tool_rules.has_children(rules, r.name) or tool_rules.is_continue(rules, r.name) for r in results):
        keep = True
    if not keep and tool_rules.uncalled_required(rules, history):
        keep = True
    return keep, (None if keep else "end_turn"), HEARTBEAT_REASON


async def _append_heartbeat(session: AsyncSession, inp: ToolsInput, reason: str) -> None:
    """Letta's heartbeat: a user-role row whose text is JSON, appended after the tool returns."""
    now = utcnow()
    text = json.dumps({"type": "heartbeat", "reason": reason, "time": now.strftime("%Y-%m-%d %I:%M:%S %p UTC+0000")})
    await message_store.insert_messages(session, [{
        "id": step_ids.heartbeat_message_id(inp.run_id, inp.step_index), "organization_id": inp.org_id,
        "agent_id": inp.agent_id, "conversation_id": inp.conversation_id, "role": "user",
        "content": [{"type": "text", "text": text}], "text": text, "run_id": inp.output_run_id or inp.run_id, "created_at": now,
    }])  # fmt: skip


async def _write_events(session: AsyncSession, inp: ToolsInput, state: TurnState, row: Message) -> None:
    events = [(f"{row.id}:{m['otid']}", "message", m) for m in to_letta_messages(row, **state.config.wire_kwargs())]
    await run_events.append_events(session, inp.org_id, inp.output_run_id or inp.run_id, events)
