"""The worker's in-context row cache returns exactly what a fresh read returns, reading only what changed."""

from __future__ import annotations

from sqlalchemy import delete, update

from engram.context.compiler import INTERRUPTED_TOOL_RESULT, compile_context, to_chat_messages
from engram.context.window_cache import WindowCache, _Window
from engram.ids import new_id
from engram.schemas.agent import AgentSpec
from engram.store import agents, messages
from engram.store.models import Message

LLM = {"model": "offline", "model_endpoint_type": "openai", "context_window": 32000}


def _row(org: str, agent_id: str, role: str, text: str, **extra) -> dict:
    return {"id": new_id("message"), "organization_id": org, "agent_id": agent_id, "role": role,
            "content": [{"type": "text", "text": text}], "text": text, **extra}  # fmt: skip


async def test_cache_matches_a_fresh_read_through_appends_edits_deletes_and_a_moved_window(sessions) -> None:
    org = new_id("org")
    async with sessions.begin() as s:
        agent = await agents.create_agent(s, org, AgentSpec(name="a", model="m"), llm_config=LLM)
        call = {"id": "call-1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        rows = [_row(org, agent.id, "user", f"u{i}") for i in range(5)]
        rows += [_row(org, agent.id, "assistant", "", tool_calls=[call]),
                 _row(org, agent.id, "tool", "result", tool_call_id="call-1", name="f")]  # fmt: skip
        await messages.insert_messages(s, rows)
    cache = WindowCache()

    async def both() -> tuple[list, list]:
        async with sessions() as s:
            a = await agents.get_agent(s, org, agent.id)
            return await cache.chat_rows(s, a, None), await messages.in_context_chat_rows(s, a, None)

    def same(cached: list, fresh: list) -> bool:
        return to_chat_messages("sys", cached) == to_chat_messages("sys", fresh) and len(cached) == len(fresh)

    cached, fresh = await both()
    assert same(cached, fresh) and cache.fetched == len(fresh) == 7
    cached, fresh = await both()  # nothing changed: nothing decoded again
    assert same(cached, fresh) and cache.fetched == 7

    async with sessions.begin() as s:  # a new turn, an edit (the API's modify message) and a delete
        await messages.insert_messages(s, [_row(org, agent.id, "user", "new")])
        await s.execute(update(Message).where(Message.id == rows[1]["id"]).values(text="edited"))
        await s.execute(delete(Message).where(Message.id == rows[2]["id"]))
    cached, fresh = await both()
    assert same(cached, fresh) and cache.fetched == 9  # the new row and the edited one
    assert [r.text for r in cached][:3] == ["u0", "edited", "u3"]

    async with sessions.begin() as s:  # compaction moves the window start past the first rows
        a = await agents.get_agent(s, org, agent.id)
        start = (await s.get(Message, rows[3]["id"])).position
        a.context_start_position = start
    cached, fresh = await both()
    assert same(cached, fresh) and cached[0].text == "u3" and cache.fetched == 9


async def test_cache_stays_within_its_row_budget(sessions) -> None:
    org = new_id("org")
    cache = WindowCache(max_rows=10)
    async with sessions.begin() as s:
        ids = []
        for n in range(3):
            agent = await agents.create_agent(s, org, AgentSpec(name=f"a{n}", model="m"), llm_config=LLM)
            await messages.insert_messages(s, [_row(org, agent.id, "user", f"m{i}") for i in range(6)])
            ids.append(agent.id)
    for agent_id in ids:
        async with sessions() as s:
            rows = await cache.chat_rows(s, await agents.get_agent(s, org, agent_id), None)
        assert [r.text for r in rows] == [f"m{i}" for i in range(6)]
    assert cache.rows_held <= 10 and cache.windows_held == 1  # the older agents were evicted


async def test_a_step_converts_only_appended_rows_and_everything_again_when_that_would_differ(sessions) -> None:
    org = new_id("org")
    call = {"id": "call-9", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    async with sessions.begin() as s:
        agent = await agents.create_agent(s, org, AgentSpec(name="a", model="m"), llm_config=LLM)
        user = _row(org, agent.id, "user", "hi")
        await messages.insert_messages(s, [user, _row(org, agent.id, "assistant", "", tool_calls=[call])])
    cache = WindowCache()

    async def compiled() -> list:
        async with sessions.begin() as s:
            cached = await compile_context(s, org, agent.id, None, cache)
        async with sessions() as s:  # always exactly what a fresh, uncached compile gives
            assert cached == await compile_context(s, org, agent.id, None)
        return cached

    first = await compiled()
    assert [m.role for m in first] == ["system", "user", "assistant", "tool"]
    assert first[3].content == INTERRUPTED_TOOL_RESULT  # the call has no result yet
    async with sessions.begin() as s:  # its result arrives: the old conversion is no longer right
        await messages.insert_messages(s, [_row(org, agent.id, "tool", "done", tool_call_id="call-9", name="f")])
    second = await compiled()
    assert second[3].content == "done" and second[2] is not first[2]
    async with sessions.begin() as s:  # a plain append: the messages before it are reused as they are
        await messages.insert_messages(s, [_row(org, agent.id, "user", "next")])
    third = await compiled()
    assert all(a is b for a, b in zip(third[1:4], second[1:4], strict=True)) and third[4].content == "next"
    async with sessions.begin() as s:  # an edit in the middle: converted again
        await s.execute(update(Message).where(Message.id == user["id"]).values(text="hi again"))
    fourth = await compiled()
    assert fourth[1].content == "hi again" and fourth[1] is not third[1] and len(fourth) == 5


def test_windows_of_idle_agents_are_dropped() -> None:
    cache = WindowCache(idle_s=60)
    cache._windows[("a", None)] = _Window(["1:x"], [object()], used_at=100.0)
    cache._windows[("b", None)] = _Window(["2:y", "3:z"], [object(), object()], used_at=150.0)
    cache._size = 3
    assert cache.drop_idle(now=170.0) == 1 and cache.windows_held == 1 and cache.rows_held == 2
    assert cache.drop_idle(now=170.0) == 0
    assert cache.drop_idle(now=211.0) == 1 and cache.windows_held == 0 and cache.rows_held == 0
