"""The multi-agent tools' rules with a stand-in courier (no database, no Temporal): loop and depth bounds,
fan-out recipients, replies and what the receiver is told."""

from __future__ import annotations

import json

from engram.tools.multi_agent import MAX_CHAIN_DEPTH, AgentRef, Delivery, MultiAgentCall, execute

AGENTS = {"agent-a": ["boss"], "agent-b": ["worker"], "agent-c": ["worker", "eu"], "agent-d": ["worker", "us"]}


class Courier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list[str], bool]] = []

    async def find_agent(self, agent_id: str) -> AgentRef | None:
        return AgentRef(agent_id, agent_id.upper()) if agent_id in AGENTS else None

    async def agents_with_tags(self, match_all: list[str], match_some: list[str]) -> list[AgentRef]:
        return [AgentRef(a, a.upper()) for a, tags in AGENTS.items()
                if set(match_all) <= set(tags) and (not match_some or set(match_some) & set(tags))]  # fmt: skip

    async def deliver(self, target: AgentRef, text: str, *, run_id: str, chain: list[str], wait: bool, timeout_s: float) -> Delivery:
        self.sent.append((target.id, text, chain, wait))
        return Delivery(run_id, "completed" if wait else None, [f"hi from {target.id}"])


def _call(courier: Courier, chain: list[str] | None = None, sender: str = "agent-a") -> MultiAgentCall:
    return MultiAgentCall(sender, "op-1", chain or [], courier)


async def test_reply_and_what_the_receiver_is_told() -> None:
    courier = Courier()
    text, is_error = await execute(_call(courier), "send_message_to_agent_and_wait_for_reply",
                                   {"message": "status?", "other_agent_id": "agent-b"})  # fmt: skip
    assert not is_error and json.loads(text) == {"agent_id": "agent-b", "agent_name": "AGENT-B", "response": ["hi from agent-b"]}
    target, sent, chain, wait = courier.sent[0]
    assert (target, chain, wait) == ("agent-b", ["agent-a"], True)
    assert sent.startswith("[Incoming message from agent with ID 'agent-a'") and sent.endswith("\nstatus?")


async def test_loops_and_depth_are_bounded() -> None:
    courier = Courier()
    text, is_error = await execute(_call(courier, ["agent-b"]), "send_message_to_agent_and_wait_for_reply",
                                   {"message": "x", "other_agent_id": "agent-b"})  # fmt: skip
    assert is_error and "already waiting" in text
    text, is_error = await execute(_call(courier, ["agent-b"]), "send_message_to_agent_async",
                                   {"message": "x", "other_agent_id": "agent-b"})  # fmt: skip
    assert not is_error  # a one-way reply to an agent up the chain cannot deadlock
    deep = [f"agent-x{i}" for i in range(MAX_CHAIN_DEPTH)]
    text, is_error = await execute(_call(courier, deep), "send_message_to_agent_async", {"message": "x", "other_agent_id": "agent-c"})
    assert is_error and "too deep" in text
    text, is_error = await execute(_call(courier), "send_message_to_agent_async", {"message": "x", "other_agent_id": "agent-zzz"})
    assert (text, is_error) == ("Error: agent agent-zzz not found", True)
    text, is_error = await execute(_call(courier), "send_message_to_agent_async", {"message": "x"})
    assert is_error and text.startswith("Error executing function send_message_to_agent_async: TypeError")


async def test_fan_out_by_tags_excludes_the_sender() -> None:
    courier = Courier()
    text, is_error = await execute(_call(courier, sender="agent-c"), "send_message_to_agents_matching_tags",
                                   {"message": "go", "match_all": ["worker"], "match_some": ["eu", "us"]})  # fmt: skip
    assert not is_error and [r["agent_id"] for r in json.loads(text)] == ["agent-d"]
    text, is_error = await execute(_call(courier), "send_message_to_agents_matching_tags", {"message": "go", "match_all": [], "match_some": []})
    assert is_error and "tags" in text
