"""Human approval and client-side tools (reference A.8): which calls must wait, what is pending, decisions.

The database is the one source of truth for a pending approval: an assistant row whose tool calls carry
the `requires_approval` marker (set when the LLM step stored the row) and that have no tool-return row
yet. The agent workflow only holds a timer (auto-deny) and the knowledge that it is waiting; the API
reads the rows to answer 409 / 400 at once, and every writer of a decision uses the same derived row ids,
so a cancel racing an approval leaves exactly one tool return per call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import Conflict, EngramError
from engram.store.models import Agent, Message, Run, Tool

MARKER = "requires_approval"  # key set on a stored tool-call dict that must wait for the client
APPROVAL_TYPES = ("approval", "tool_return")  # input message types that answer a pending approval
CANCEL_REASON = "The user cancelled the request, so the tool call was denied."
SUPERSEDED_REASON = "The user sent a new message instead of answering, so the tool call was denied."
NOT_RUN_REASON = "Error: this tool call was not executed because the request was denied."
MAX_SCAN_STEPS = 10_000  # LettaRequest.max_steps' upper bound


class ApprovalError(EngramError):
    """An approval that does not fit what is pending (HTTP 400, Letta's wording)."""


class PendingApprovalConflict(Conflict):
    """A plain message while a tool call waits for approval (HTTP 409, body code PENDING_APPROVAL)."""

    def __init__(self, pending: PendingApproval) -> None:
        names = ", ".join(sorted({c["function"]["name"] for c in pending.calls}))
        super().__init__(
            f"PENDING_APPROVAL: the agent is waiting for approval of {names} (tool_call_ids "
            f"{', '.join(pending.call_ids)}). Please approve or deny the pending request before continuing: send "
            "an approval message, or cancel the run."
        )
        self.extra = {"code": "PENDING_APPROVAL", "message": str(self), "pending_request_id": pending.message_id,
                      "pending_tool_call_ids": pending.call_ids, "run_id": pending.run_id}  # fmt: skip


def denial_text(reason: str | None) -> str:
    """What the model reads for a denied call (Letta's wording)."""
    return f"Error: request to call tool denied. User reason: {reason}" if reason else "Error: request to call tool denied."


def timeout_reason(seconds: float) -> str:
    return f"No approval arrived within {seconds:g} seconds, so the tool call was denied."


def is_marked(call: dict[str, Any]) -> bool:
    return bool(call.get(MARKER))


def marked_calls(row: Message) -> list[dict[str, Any]]:
    return [c for c in row.tool_calls or [] if is_marked(c)]


def approval_timeout_s(agent: Agent, default: float | None) -> float | None:
    """The agent's `metadata.approval_timeout_s` when set (> 0), else the server default; None = wait forever."""
    value = (agent.metadata_ or {}).get("approval_timeout_s")
    try:
        seconds = float(value) if value is not None else default
    except (TypeError, ValueError):
        seconds = default
    return seconds if seconds and seconds > 0 else None


def approval_names(
    rules: list[dict[str, Any]], tools: list[Tool], overrides: dict[str, bool | None], client_names: list[str]
) -> frozenset[str]:
    """Names whose calls wait: a requires_approval rule, else the agent's per-tool override, else the tool's
    `default_requires_approval`; client-side tools always wait (the client runs them)."""
    ruled = {r.get("tool_name") for r in rules if r.get("type") == "requires_approval"}
    names = set(client_names) | {n for n in ruled if isinstance(n, str)}
    for tool in tools:
        override = overrides.get(tool.name)
        if override if override is not None else bool(tool.default_requires_approval):
            names.add(tool.name)
    return frozenset(names)


@dataclass
class PendingApproval:
    message_id: str  # the assistant row holding the calls
    run_id: str  # the run whose step asked
    calls: list[dict[str, Any]]  # marked calls still without a tool return
    answered: set[str] = field(default_factory=set)

    @property
    def call_ids(self) -> list[str]:
        return [c["id"] for c in self.calls]


def _thread(conversation_id: str | None):  # noqa: ANN202 - SQL expression
    return Message.conversation_id.is_(None) if conversation_id is None else Message.conversation_id == conversation_id


async def find_pending(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None = None
) -> PendingApproval | None:
    """The thread's newest assistant row, when it has marked calls that no tool row answers yet."""
    row = await session.scalar(
        select(Message)
        .where(Message.organization_id == org_id, Message.agent_id == agent_id, _thread(conversation_id),
               Message.role == "assistant")  # fmt: skip
        .order_by(Message.position.desc())
        .limit(1)
    )
    if row is None or not marked_calls(row):
        return None
    from engram.store import agents as agent_store
    from engram.store.conversations import context_holder

    holder = await context_holder(session, await agent_store.get_agent(session, org_id, agent_id), conversation_id)
    if row.position < (holder.context_start_position or 0):
        return None  # the context was reset past it: nothing waits any more
    ids = [c["id"] for c in row.tool_calls or []]
    answered = set(
        await session.scalars(
            select(Message.tool_call_id).where(
                Message.organization_id == org_id, Message.agent_id == agent_id, Message.role == "tool",
                Message.tool_call_id.in_(ids), Message.position > row.position,
            )  # fmt: skip
        )
    )
    waiting = [c for c in marked_calls(row) if c["id"] not in answered]
    if not waiting or not row.run_id:
        return None
    return PendingApproval(row.id, row.run_id, waiting, answered)


def step_index_of(row: Message, max_steps: int = MAX_SCAN_STEPS) -> int:
    """The step of `row.run_id` that stored this assistant row (its id derives from run id + step index)."""
    from engram.ids import derived_id

    for index in range(max_steps + 1):
        if derived_id("message", row.run_id or "", str(index), "assistant") == row.id:
            return index
    raise ApprovalError(f"message {row.id} is not an agent step of run {row.run_id}")


# ---- decisions ------------------------------------------------------------------------------------------


def _text_of_return(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(p.get("text", "")) for p in value if isinstance(p, dict) and p.get("type") == "text")
    return "" if value is None else str(value)


def _joined(value: Any) -> str | None:
    if value is None:
        return None
    return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)


def normalize_approvals(message: dict[str, Any], pending: PendingApproval | None) -> list[dict[str, Any]]:
    """One list of decisions from an ApprovalCreate (new `approvals[]` or legacy approve/approval_request_id)
    or a ToolReturnCreate: [{type: approval, tool_call_id, approve, reason} | {type: tool, tool_call_id,
    status, tool_return, stdout, stderr}]."""
    items: list[dict[str, Any]] = []
    raw = message.get("tool_returns") if message.get("type") == "tool_return" else message.get("approvals")
    for item in raw or []:
        if not isinstance(item, dict) or not item.get("tool_call_id"):
            raise ApprovalError("each approval needs a tool_call_id")
        kind = item.get("type") or ("tool" if "tool_return" in item else "approval")
        if kind == "tool":
            status = item.get("status") or "success"
            if status not in ("success", "error"):
                raise ApprovalError(f"tool return status must be 'success' or 'error', got {status!r}")
            items.append({"type": "tool", "tool_call_id": str(item["tool_call_id"]), "status": status,
                          "tool_return": _text_of_return(item.get("tool_return")),
                          "stdout": item.get("stdout"), "stderr": item.get("stderr")})  # fmt: skip
        elif kind == "approval":
            if not isinstance(item.get("approve"), bool):
                raise ApprovalError("an approval needs approve: true or false")
            items.append({"type": "approval", "tool_call_id": str(item["tool_call_id"]), "approve": item["approve"],
                          "reason": item.get("reason")})  # fmt: skip
        else:
            raise ApprovalError(f"unknown approval type {kind!r} (expected 'approval' or 'tool')")
    if not items and message.get("approve") is not None:  # legacy single decision
        if pending is None:
            raise ApprovalError("No tool call is currently awaiting approval.")
        target = message.get("approval_request_id")
        ids = [target] if target in pending.call_ids else pending.call_ids
        items = [{"type": "approval", "tool_call_id": i, "approve": bool(message["approve"]),
                  "reason": message.get("reason")} for i in ids]  # fmt: skip
    if not items:
        raise ApprovalError("an approval message needs `approvals` (or `tool_returns`)")
    return items


def check_decisions(pending: PendingApproval | None, decisions: list[dict[str, Any]]) -> None:
    """Letta's checks: something must be pending, and the decisions must name exactly the pending calls."""
    if pending is None:
        raise ApprovalError("No tool call is currently awaiting approval.")
    given = [d["tool_call_id"] for d in decisions]
    if sorted(set(given)) != sorted(pending.call_ids) or len(given) != len(set(given)):
        raise ApprovalError(
            f"Invalid tool call IDs. Expected '{sorted(pending.call_ids)}', but received '{sorted(given)}'."
        )


def decisions_of(run: Run) -> dict[str, dict[str, Any]]:
    """tool_call_id -> decision, from the run's (already normalized) approval input messages."""
    out: dict[str, dict[str, Any]] = {}
    for message in run.input_messages or []:
        if isinstance(message, dict) and message.get("type") in APPROVAL_TYPES:
            for item in message.get("approvals") or []:
                out[item["tool_call_id"]] = item
    return out


@dataclass
class Decided:
    """The tool result a decision stands for, without running the tool."""

    text: str
    is_error: bool
    stdout: str | None = None
    stderr: str | None = None


def decided_result(decision: dict[str, Any] | None) -> Decided | None:
    """None: run the tool (approved). Otherwise the result a denial or a client's tool return gives."""
    if decision is None:
        return Decided(denial_text("no decision was given for this call"), True)
    if decision.get("type") == "tool":
        return Decided(str(decision.get("tool_return") or ""), decision.get("status") == "error",
                       _joined(decision.get("stdout")), _joined(decision.get("stderr")))  # fmt: skip
    if decision.get("approve"):
        return None
    return Decided(denial_text(decision.get("reason")), True)


def approval_row_fields(message: dict[str, Any]) -> dict[str, Any]:
    """Column values of a stored approval input row (role `approval`, rendered as approval_response_message)."""
    return {"role": "approval", "approvals": list(message.get("approvals") or []), "content": [], "text": ""}


async def approval_overrides(session: AsyncSession, org_id: str, agent_id: str) -> dict[str, bool | None]:
    """tool name -> the agent's own requires_approval setting (None: follow the tool's default)."""
    from engram.store.models.agent import AgentTool

    rows = await session.execute(
        select(Tool.name, AgentTool.requires_approval)
        .join(AgentTool, AgentTool.tool_id == Tool.id)
        .where(AgentTool.agent_id == agent_id, AgentTool.organization_id == org_id)
    )
    return {str(row[0]): row[1] for row in rows}


async def set_override(session: AsyncSession, org_id: str, agent_id: str, tool_name: str, value: bool | None) -> None:
    """Record the agent's per-tool setting (PATCH .../tools/approval/{name}); False beats the tool's default."""
    from sqlalchemy import update

    from engram.store.models.agent import AgentTool

    tool_ids = select(Tool.id).where(Tool.organization_id == org_id, Tool.name == tool_name).scalar_subquery()
    await session.execute(
        update(AgentTool)
        .where(AgentTool.agent_id == agent_id, AgentTool.organization_id == org_id, AgentTool.tool_id.in_(tool_ids))
        .values(requires_approval=value)
    )


def is_approval_input(input_messages: list[dict[str, Any]]) -> bool:
    return any(isinstance(m, dict) and m.get("type") in APPROVAL_TYPES for m in input_messages)


async def gate_input(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None, input_messages: list[dict[str, Any]]
) -> None:
    """Check a send against the thread's pending approval, as Letta does, before a run is created.

    A plain message while calls wait -> 409 PENDING_APPROVAL; an approval with nothing pending, or naming other
    calls -> 400. Approval messages are normalized in place (one `approvals` list each), so the loop reads one shape.
    """
    pending = await find_pending(session, org_id, agent_id, conversation_id)
    answers = [m for m in input_messages if isinstance(m, dict) and m.get("type") in APPROVAL_TYPES]
    if not answers:
        if pending is not None:
            raise PendingApprovalConflict(pending)
        return
    decisions: list[dict[str, Any]] = []
    for message in answers:
        message["approvals"] = normalize_approvals(message, pending)
        decisions += message["approvals"]
    check_decisions(pending, decisions)


async def mark_request_cancelled(session: AsyncSession, org_id: str, run_id: str) -> None:
    """The run that asked is shown cancelled once its pending calls are denied by a cancel (Letta does this)."""
    from sqlalchemy import update

    await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.organization_id == org_id, Run.stop_reason == "requires_approval")
        .values(status="cancelled", stop_reason="cancelled")
    )


async def pending_request_message(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None = None
) -> dict[str, Any] | None:
    """The approval_request_message the thread waits on (AgentState.pending_approval), or None."""
    from engram.letta_messages import to_letta_messages
    from engram.store import messages as message_store

    pending = await find_pending(session, org_id, agent_id, conversation_id)
    if pending is None:
        return None
    row = await message_store.get_message(session, org_id, pending.message_id)
    found = [m for m in to_letta_messages(row) if m["message_type"] == "approval_request_message"]
    return found[0] if found else None
