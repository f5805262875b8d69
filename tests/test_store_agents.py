"""Agents, blocks and tools in the real database."""

from __future__ import annotations

import pytest

from engram.errors import Conflict, InvalidInput, NotFound
from engram.ids import new_id
from engram.schemas.agent import AgentSpec, BlockSpec
from engram.store import agents, blocks, tools

LLM = {"model": "offline", "model_endpoint_type": "openai", "context_window": 32000}


async def test_created_agent_has_blocks_base_tools_and_rules(sessions) -> None:
    org = new_id("org")
    async with sessions.begin() as s:
        agent = await agents.create_agent(
            s, org,
            AgentSpec(name="a", model="engram/offline", agent_type="memgpt_v2_agent",
                      memory_blocks=[BlockSpec(label="human", value="x"), BlockSpec(label="persona", value="p")]),
            llm_config=LLM,
        )  # fmt: skip
    async with sessions() as s:
        labels = [b.label for b in await blocks.list_agent_blocks(s, org, agent.id)]
        names = {t.name for t in await tools.list_agent_tools(s, org, agent.id)}
        human = await blocks.get_agent_block_by_label(s, org, agent.id, "human")
    assert labels == ["human", "persona"]
    assert names == {"send_message", "conversation_search", "memory_replace", "memory_insert"}
    assert {"type": "exit_loop", "tool_name": "send_message"} in agent.tool_rules
    assert human.description and human.description.startswith("The human block")


async def test_shared_block_edit_is_seen_by_both_agents(sessions) -> None:
    org = new_id("org")
    async with sessions.begin() as s:
        shared = await blocks.create_block(s, org, BlockSpec(label="team", value="v1"))
        a = await agents.create_agent(s, org, AgentSpec(name="a", model="m", block_ids=[shared.id]), llm_config=LLM)
        b = await agents.create_agent(s, org, AgentSpec(name="b", model="m", block_ids=[shared.id]), llm_config=LLM)
        await blocks.update_block(s, org, shared.id, {"value": "v2"})
    async with sessions() as s:
        assert (await blocks.get_agent_block_by_label(s, org, a.id, "team")).value == "v2"
        assert (await blocks.get_agent_block_by_label(s, org, b.id, "team")).value == "v2"


async def test_compare_and_set_rejects_stale_version(sessions) -> None:
    org = new_id("org")
    async with sessions.begin() as s:
        block = await blocks.create_block(s, org, BlockSpec(label="human", value="a"))
    async with sessions.begin() as s:
        assert await blocks.compare_and_set_value(s, org, block.id, 1, "b") == 2
    async with sessions.begin() as s:
        assert await blocks.compare_and_set_value(s, org, block.id, 1, "stale") is None
    async with sessions() as s:
        assert (await blocks.get_block(s, org, block.id)).value == "b"


async def test_bad_agent_inputs_raise_domain_errors(sessions) -> None:
    org = new_id("org")
    async with sessions.begin() as s:
        with pytest.raises(InvalidInput):
            await agents.create_agent(s, org, AgentSpec(name="a", model="m", agent_type="nope"), llm_config=LLM)
    async with sessions.begin() as s:
        with pytest.raises(InvalidInput):
            await agents.create_agent(
                s, org, AgentSpec(name="a", model="m", memory_blocks=[BlockSpec(label="x"), BlockSpec(label="x")]),
                llm_config=LLM,
            )
    async with sessions.begin() as s:
        with pytest.raises(NotFound):
            await agents.create_agent(s, org, AgentSpec(name="a", model="m", tools=["no_such_tool"]), llm_config=LLM)
    async with sessions.begin() as s:
        one = await blocks.create_block(s, org, BlockSpec(label="human"))
        two = await blocks.create_block(s, org, BlockSpec(label="human"))
        agent = await agents.create_agent(s, org, AgentSpec(name="a", model="m", block_ids=[one.id]), llm_config=LLM)
        with pytest.raises(Conflict):
            await blocks.attach_block(s, org, agent.id, two.id)
    async with sessions() as s:
        with pytest.raises(NotFound):
            await agents.get_agent(s, new_id("org"), agent.id)  # another tenant cannot see it


async def test_creating_an_agent_with_its_system_message_writes_the_agent_row_once(sessions) -> None:
    """Each UPDATE in the creating transaction would leave a dead copy of the ~1 KB row (issue #9)."""
    from sqlalchemy import text

    from engram.context.compiler import refresh_system_message
    from engram.store import messages

    # The view also counts this backend's earlier transactions not yet flushed to the statistics: compare.
    row_writes = text("SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'agents'")
    org = new_id("org")
    async with sessions.begin() as s:
        before = (await s.execute(row_writes)).one()
        agent = await agents.create_agent(
            s, org, AgentSpec(name="a", model="engram/offline", agent_type="memgpt_v2_agent",
                              memory_blocks=[BlockSpec(label="human", value="x")]),
            llm_config=LLM,
        )  # fmt: skip
        system = await refresh_system_message(s, org, agent.id)
        after = (await s.execute(row_writes)).one()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)  # inserted, never updated
    assert agent.system_message_id == system.id and system.role == "system"
    assert {"type": "exit_loop", "tool_name": "send_message"} in agent.tool_rules
    async with sessions() as s:
        assert (await messages.get_message(s, org, agent.system_message_id)).text == system.text
