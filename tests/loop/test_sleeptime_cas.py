"""A primary agent and its sleep-time agent editing their shared block at the same moment lose no edit."""

from __future__ import annotations

import asyncio

from engram import sleeptime
from engram.store import agents, blocks
from engram.tools.executor import ToolContext, execute_builtin


async def test_concurrent_edits_by_primary_and_sleeptime_agent_all_land(loop) -> None:
    primary_id = await loop.agent("engram/offline", agent_type="memgpt_v2_agent", human="Facts:")
    async with loop.sessions.begin() as s:
        primary = await agents.get_agent(s, loop.org_id, primary_id)
        group = await sleeptime.create_sleeptime_agent(s, loop.org_id, primary)
        again = await sleeptime.create_sleeptime_agent(s, loop.org_id, primary)  # idempotent
    assert again.id == group.id

    async def insert(agent_id: str, line: str) -> None:
        async with loop.sessions.begin() as s:
            ctx = ToolContext(s, loop.org_id, agent_id, f"op-{line}")
            result = await execute_builtin(ctx, "memory_insert", {"label": "human", "new_string": line})
        assert not result.is_error, result.text

    lines = [(primary_id, f"primary fact {i}") for i in range(3)] + [(group.sleeptime_agent_id, f"sleeptime fact {i}") for i in range(3)]
    await asyncio.gather(*(insert(agent_id, line) for agent_id, line in lines))

    async with loop.sessions() as s:
        mine = await blocks.get_agent_block_by_label(s, loop.org_id, primary_id, "human")
        theirs = await blocks.get_agent_block_by_label(s, loop.org_id, group.sleeptime_agent_id, "human")
    assert mine.id == theirs.id  # one shared block
    assert sorted(mine.value.split("\n")[1:]) == sorted(line for _, line in lines)
    assert mine.version == 1 + len(lines)
