"""Letta's multi-agent tools: message another agent of the same organization, optionally waiting for its reply.

The tools decide *what* to send (the receiver sees who sent it, loops are refused, fan-out by tags);
a `Courier` supplied by the worker does the delivery: it stores the message as a run of the other
agent and queues it on that agent's workflow, then (for the waiting tools) waits for the run to finish.
Run ids derive from the calling tool call, so a retried call (e.g. after a worker died while waiting)
re-attaches to the same run instead of sending twice.

Loops are bounded: every agent-to-agent run carries the chain of agents whose messages led to it. A
waiting call to an agent already in the chain would wait on itself and is refused; a chain longer than
`MAX_CHAIN_DEPTH` hops is refused for every tool.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Protocol

from engram.ids import derived_uuid, id_from_uuid
from engram.tools.memory_tools import ToolError

MULTI_AGENT_TOOLS = (
    "send_message_to_agent_and_wait_for_reply", "send_message_to_agent_async", "send_message_to_agents_matching_tags",
)  # fmt: skip
MAX_CHAIN_DEPTH = 4  # agent-to-agent hops from the first sender
REPLY_TIMEOUT_S = 240.0  # under the tools activity's start-to-close timeout
MAX_FAN_OUT = 20
AGENT_RUN_MAX_STEPS = 20
CHAIN_KEY = "multi_agent_chain"  # in the receiving run's request_config


def incoming_prefix(sender_id: str, *, waits: bool) -> str:
    if waits:
        return f"[Incoming message from agent with ID '{sender_id}' - your response will be delivered to the sender]"
    return (f"[Incoming message from agent with ID '{sender_id}' - this is a one-way notification; reply with "
            f"send_message_to_agent_async(other_agent_id='{sender_id}') if needed]")  # fmt: skip


@dataclass
class AgentRef:
    id: str
    name: str


@dataclass
class Delivery:
    """The other agent's run: its status once finished (None while it still runs) and its assistant texts."""

    run_id: str
    status: str | None
    replies: list[str] = field(default_factory=list)


class Courier(Protocol):
    async def find_agent(self, agent_id: str) -> AgentRef | None:
        """The agent if it exists in the caller's organization (never another organization's)."""

    async def agents_with_tags(self, match_all: list[str], match_some: list[str]) -> list[AgentRef]:
        """Agents of the caller's organization having every `match_all` tag and one of `match_some`."""

    async def deliver(self, target: AgentRef, text: str, *, run_id: str, chain: list[str], wait: bool,
                      timeout_s: float) -> Delivery:  # fmt: skip
        """Store `text` as run `run_id` of `target` (once) and queue it; with `wait`, until it finishes."""


@dataclass
class MultiAgentCall:
    sender_id: str
    op_id: str  # the tool call's idempotency key
    chain: list[str]  # agents whose messages led to the sender's current run (oldest first)
    courier: Courier


def _run_id(call: MultiAgentCall, target_id: str) -> str:
    return id_from_uuid("run", derived_uuid("agent-message", call.op_id, target_id))


def _check_hop(call: MultiAgentCall, target: AgentRef, *, waits: bool) -> list[str]:
    """The chain the target's run will carry; refuses self-messages, waits on a waiting agent, deep chains."""
    if target.id == call.sender_id:
        raise ToolError("Error: an agent cannot send a message to itself")
    chain = [*call.chain, call.sender_id]
    if waits and target.id in chain:
        raise ToolError(
            f"Error: agent {target.id} is already waiting for this conversation to finish; waiting for its reply "
            "would never end. Answer in your reply instead, or use send_message_to_agent_async."
        )
    if len(chain) > MAX_CHAIN_DEPTH:
        raise ToolError(f"Error: agent-to-agent message chain too deep ({len(chain)} hops, at most {MAX_CHAIN_DEPTH})")
    return chain


async def _target(call: MultiAgentCall, other_agent_id: str) -> AgentRef:
    if not isinstance(other_agent_id, str) or not other_agent_id:
        raise ToolError("Error: other_agent_id must be an agent id")
    target = await call.courier.find_agent(other_agent_id)
    if target is None:
        raise ToolError(f"Error: agent {other_agent_id} not found")
    return target


def _reply_record(target: AgentRef, delivery: Delivery) -> dict[str, object]:
    if delivery.status is None:
        return {"agent_id": target.id, "agent_name": target.name, "run_id": delivery.run_id,
                "error": f"no reply within {int(REPLY_TIMEOUT_S)} s; the message was delivered and is still being worked on"}  # fmt: skip
    if delivery.status != "completed":
        return {"agent_id": target.id, "agent_name": target.name, "run_id": delivery.run_id,
                "error": f"the agent's run ended {delivery.status}"}  # fmt: skip
    return {"agent_id": target.id, "agent_name": target.name, "response": delivery.replies or ["<no response>"]}


async def _ask(call: MultiAgentCall, target: AgentRef, message: str) -> dict[str, object]:
    chain = _check_hop(call, target, waits=True)
    text = f"{incoming_prefix(call.sender_id, waits=True)}\n{message}"
    delivery = await call.courier.deliver(target, text, run_id=_run_id(call, target.id), chain=chain, wait=True,
                                          timeout_s=REPLY_TIMEOUT_S)  # fmt: skip
    return _reply_record(target, delivery)


async def send_message_to_agent_and_wait_for_reply(call: MultiAgentCall, message: str, other_agent_id: str) -> str:
    """Send `message` to another agent and return its reply (a durable wait: it survives worker restarts)."""
    record = await _ask(call, await _target(call, other_agent_id), str(message))
    if "error" in record:
        raise ToolError(f"Error: {record['error']} (agent {record['agent_id']}, run {record['run_id']})")
    return json.dumps(record)


async def send_message_to_agent_async(call: MultiAgentCall, message: str, other_agent_id: str) -> str:
    """Send `message` to another agent and return at once; its answer, if any, comes as a message later."""
    target = await _target(call, other_agent_id)
    chain = _check_hop(call, target, waits=False)
    text = f"{incoming_prefix(call.sender_id, waits=False)}\n{message}"
    delivery = await call.courier.deliver(target, text, run_id=_run_id(call, target.id), chain=chain, wait=False,
                                          timeout_s=0)  # fmt: skip
    return f"Successfully sent message to agent {target.id} (run {delivery.run_id})"


async def send_message_to_agents_matching_tags(
    call: MultiAgentCall, message: str, match_all: list[str] | None = None, match_some: list[str] | None = None
) -> str:
    """Send `message` to every agent with all `match_all` tags and one of `match_some`; gather their replies."""
    match_all = [str(t) for t in match_all or []]
    match_some = [str(t) for t in match_some or []]
    if not match_all and not match_some:
        raise ToolError("Error: give match_all and/or match_some tags to choose the recipients")
    targets = [t for t in await call.courier.agents_with_tags(match_all, match_some) if t.id != call.sender_id]
    if not targets:
        return json.dumps([])
    if len(targets) > MAX_FAN_OUT:
        raise ToolError(f"Error: {len(targets)} agents match; at most {MAX_FAN_OUT} can be messaged at once")
    for target in targets:
        _check_hop(call, target, waits=True)
    replies = await asyncio.gather(*(_ask(call, target, str(message)) for target in targets))
    return json.dumps(list(replies))


EXECUTORS = {
    "send_message_to_agent_and_wait_for_reply": send_message_to_agent_and_wait_for_reply,
    "send_message_to_agent_async": send_message_to_agent_async,
    "send_message_to_agents_matching_tags": send_message_to_agents_matching_tags,
}


async def execute(call: MultiAgentCall, name: str, args: dict[str, object]) -> tuple[str, bool]:
    """(text, is_error) of one multi-agent tool call; mistakes come back as errors, never raised."""
    import inspect

    fn = EXECUTORS[name]
    try:
        inspect.signature(fn).bind(call, **args)
    except TypeError as exc:
        return f"Error executing function {name}: TypeError: {exc}", True
    try:
        return await fn(call, **args), False  # type: ignore[arg-type]
    except ToolError as exc:
        return str(exc), True
