"""conversation_search and the archival tools, called by a model inside real turns."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from engram.ids import new_id
from engram.store import messages
from engram.store.models import Agent, Message, MessageEmbedding, Passage
from engram.tools.executor import ToolContext, execute_builtin
from engram.tools.memory_search import chunk_text
from tests.fake_llm import FakeReply


def _model() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def _tool_returns(loop, run_id: str) -> list[dict]:
    async with loop.sessions() as s:
        rows = await messages.run_output_messages(s, loop.org_id, run_id)
    return [r.tool_returns[0] for r in rows if r.role == "tool"]


def _payload(tool_return: dict) -> object:
    """The tool's own return value inside Letta's packaged {"status", "message", "time"} response."""
    raw = tool_return["func_response"]
    message = json.loads(raw)["message"] if raw.startswith("{") and '"status"' in raw else raw
    return json.loads(message) if isinstance(message, str) and message[:1] in "[{" else message


async def test_archival_insert_then_search_finds_the_passage(loop, fake_llm) -> None:
    model = _model()
    note = "The user's sister Maria lives in Lisbon and works as a marine biologist."
    fake_llm.script(model, [
        FakeReply.tool("archival_memory_insert", {"content": note, "tags": ["family"]}), FakeReply.text("saved"),
        FakeReply.tool("archival_memory_search", {"query": "where does Maria live", "tags": ["family"]}),
        FakeReply.text("found"),
    ])  # fmt: skip
    agent_id = await loop.agent(f"openai/{model}", tools=["archival_memory_insert", "archival_memory_search"])
    run_id, result = await loop.send(agent_id, "remember my sister")
    assert result.stop_reason == "end_turn"
    [insert] = await _tool_returns(loop, run_id)
    assert insert["status"] == "success"
    run_id, _ = await loop.send(agent_id, "where is Maria?")
    [search] = await _tool_returns(loop, run_id)
    results = _payload(search)
    assert search["status"] == "success" and results[0]["content"] == note and results[0]["tags"] == ["family"]


async def test_archival_insert_retried_with_the_same_op_id_stores_once(loop) -> None:
    agent_id = await loop.agent("engram/offline")
    long_text = "\n\n".join(f"Paragraph {i}. " + "Lorem ipsum dolor sit amet. " * 30 for i in range(4))
    assert len(chunk_text(long_text)) > 1
    for _ in range(2):  # an activity retry runs the same call with the same op id
        async with loop.sessions.begin() as s:
            ctx = ToolContext(s, loop.org_id, agent_id, op_id=f"op-{agent_id}", settings=loop.settings)
            result = await execute_builtin(ctx, "archival_memory_insert", {"content": long_text})
            assert not result.is_error, result.text
    async with loop.sessions() as s:
        stored = await s.scalar(select(func.count()).select_from(Passage).where(Passage.agent_id == agent_id))
    assert stored == len(chunk_text(long_text))


async def test_conversation_search_finds_earlier_messages_with_filters(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("nice!")])
    agent_id = await loop.agent(f"openai/{model}", tools=["conversation_search"])
    await loop.send(agent_id, "I adore mountain biking in the Alps")

    async def search(**args) -> dict:
        async with loop.sessions.begin() as s:
            ctx = ToolContext(s, loop.org_id, agent_id, op_id=new_id("op"), settings=loop.settings)
            result = await execute_builtin(ctx, "conversation_search", args)
        assert not result.is_error, result.text
        return json.loads(result.text)

    found = await search(query="biking")
    assert found["message"] == "Showing 1 results:"
    assert found["results"][0]["role"] == "user" and "mountain biking" in found["results"][0]["content"]
    assert (await search(query="biking", roles=["assistant"]))["results"] == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert (await search(query="biking", start_date=tomorrow))["message"] == "No results found."
    today = datetime.now(UTC).date().isoformat()
    assert len((await search(query="biking", start_date=today, end_date=today))["results"]) == 1


async def test_only_rows_recall_search_returns_carry_a_search_vector(loop, fake_llm) -> None:
    """System prompts and tool returns are never search results, so they are not indexed (migration 0013)."""
    model = _model()
    fake_llm.script(model, [FakeReply.tool("conversation_search", {"query": "violin"}), FakeReply.text("found it")])
    agent_id = await loop.agent(f"openai/{model}", tools=["conversation_search"])
    await loop.send(agent_id, "I play the violin on Sundays")
    async with loop.sessions() as s:
        rows = (await s.execute(
            select(Message.role, Message.search_tsv.is_not(None)).where(Message.agent_id == agent_id)
        )).all()  # fmt: skip
    indexed: dict[str, set[bool]] = {}
    for role, has in rows:
        indexed.setdefault(role, set()).add(has)
    assert {"system", "tool", "user", "assistant"} <= set(indexed)
    assert indexed["user"] == indexed["assistant"] == {True}
    assert indexed["system"] == indexed["tool"] == {False}


async def _tool(loop, agent_id: str, name: str, **args) -> object:
    async with loop.sessions.begin() as s:
        ctx = ToolContext(s, loop.org_id, agent_id, op_id=new_id("op"), settings=loop.settings)
        result = await execute_builtin(ctx, name, args)
    assert not result.is_error, result.text
    return json.loads(result.text) if result.text[:1] in "[{" else result.text


async def test_conversation_search_is_hybrid_and_embeds_each_message_once(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("What a lovely animal."), FakeReply.text("Sounds delicious.")])
    agent_id = await loop.agent(f"openai/{model}", tools=["conversation_search"])
    await loop.send(agent_id, "I adopted a zebra named Stripes")
    await loop.send(agent_id, "For dinner we cooked mushroom risotto")

    both = await _tool(loop, agent_id, "conversation_search", query="zebra")
    assert "zebra named Stripes" in both["results"][0]["content"]
    assert both["results"][0]["relevance"] | {"rrf_score": 0} == {
        "rrf_score": 0, "fts_rank": 1, "vector_rank": 1, "search_mode": "hybrid"}  # fmt: skip
    # Full text needs every word; the vector half still finds the message sharing two of three.
    [hit] = (await _tool(loop, agent_id, "conversation_search", query="zebra stripes elephant"))["results"]
    assert "zebra named Stripes" in hit["content"] and "fts_rank" not in hit["relevance"]
    assert hit["relevance"]["vector_rank"] == 1
    assert (await _tool(loop, agent_id, "conversation_search", query="quantum chromodynamics"))["results"] == []

    async with loop.sessions() as s:
        vectors = await s.scalar(select(func.count()).select_from(MessageEmbedding)
                                 .where(MessageEmbedding.agent_id == agent_id))  # fmt: skip
    assert vectors == 4  # two user + two assistant messages, embedded once across three searches


async def test_without_a_usable_embedder_memory_search_is_full_text(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("Noted.")])
    agent_id = await loop.agent(f"openai/{model}")
    async with loop.sessions.begin() as s:  # e.g. an embedding model this build no longer has
        await s.execute(update(Agent).where(Agent.id == agent_id).values(embedding="gone/embedder"))
    await loop.send(agent_id, "My passport number is X1234567")

    found = await _tool(loop, agent_id, "conversation_search", query="passport number")
    assert found["results"][0]["relevance"]["search_mode"] == "fts"
    assert "X1234567" in found["results"][0]["content"]
    await _tool(loop, agent_id, "archival_memory_insert", content="The wifi password is hunter2", tags=["home"])
    [passage] = await _tool(loop, agent_id, "archival_memory_search", query="what is the wifi password")
    assert passage["content"] == "The wifi password is hunter2" and passage["tags"] == ["home"]


async def test_an_agent_never_finds_another_organizations_memories(loop) -> None:
    """Organization B's passages, messages and shared archive stay invisible to org A's agent, through
    the built-in tools (the same repository scoping the REST API uses)."""
    from dataclasses import replace

    from engram.store import archives, passages
    from engram.store.passages import NewPassage

    secret = "The launch code of org B is 7741-zebra."
    mine = await loop.agent("engram/offline", tools=["archival_memory_search", "conversation_search"])
    other_loop = replace(loop, org_id=new_id("org"))
    theirs = await other_loop.agent("engram/offline", tools=["archival_memory_insert"])
    await other_loop.send(theirs, secret)  # a message in org B's recall memory
    async with loop.sessions.begin() as s:
        ctx_b = ToolContext(s, other_loop.org_id, theirs, op_id=new_id("op"), settings=loop.settings)
        await execute_builtin(ctx_b, "archival_memory_insert", {"content": secret})
        kb = await archives.create_archive(s, other_loop.org_id, name="org-b-kb", description=None, embedding=None)
        await passages.insert_passages(s, other_loop.org_id, None, [NewPassage(text=secret, embedding=[0.0] * 384,
                                       tags=[])], embedding_model="engram/hash-embedding", archive_id=kb.id)  # fmt: skip
    async with loop.sessions.begin() as s:
        try:  # org A cannot attach org B's archive
            await archives.attach_archive(s, loop.org_id, mine, kb.id)
        except Exception as exc:  # noqa: BLE001
            assert "not found" in str(exc).lower()
        else:
            raise AssertionError("org A attached org B's archive")
    async with loop.sessions.begin() as s:
        ctx_a = ToolContext(s, loop.org_id, mine, op_id=new_id("op"), settings=loop.settings)
        for tool, args in (("archival_memory_search", {"query": "launch code zebra"}),
                           ("conversation_search", {"query": "launch code zebra"})):  # fmt: skip
            out = (await execute_builtin(ctx_a, tool, args)).text
            assert "7741" not in out, (tool, out)
    async with loop.sessions.begin() as s:  # the same searches in org B do find it (the test can fail)
        ctx_b = ToolContext(s, other_loop.org_id, theirs, op_id=new_id("op"), settings=loop.settings)
        assert "7741" in (await execute_builtin(ctx_b, "archival_memory_search", {"query": "launch code zebra"})).text
