"""`client.conversations` through the real letta-client against a live Engram (offline model).

The shared-assistant pattern from Letta's Conversations tutorial: one agent, one conversation per end
user (found or created by listing), interleaved messages; each thread's history is private, the agent's
memory blocks are shared, and each conversation is its own workflow.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from letta_client import (
    APIStatusError,
    AsyncLetta,
    ConflictError,
    Letta,
    NotFoundError,
    UnprocessableEntityError,
)
from letta_client.types.agents.letta_streaming_response import LettaPing, LettaStopReason

from engram.ids import DEFAULT_ORG_ID, new_id
from engram.store import runs as runs_repo


def _new_agent(letta: Letta, name: str = "shared-assistant") -> str:
    agent = letta.agents.create(
        name=name, model="engram/offline", agent_type="memgpt_v2_agent",
        memory_blocks=[{"label": "human", "value": ""}, {"label": "persona", "value": "A shared assistant."}],
    )  # fmt: skip
    return agent.id


def _send(letta: Letta, conversation_id: str, text: str, **kw: Any) -> list[Any]:
    """One turn through the SDK (which always reads SSE); the chunks, pings dropped."""
    stream = letta.conversations.messages.create(
        conversation_id, messages=[{"role": "user", "content": text}], **kw
    )
    return [c for c in stream if not isinstance(c, LettaPing)]


def _said(chunks: list[Any]) -> str:
    return " ".join(str(c.content) for c in chunks if getattr(c, "message_type", None) == "assistant_message")


def _user_texts(letta: Letta, conversation_id: str, **kw: Any) -> list[str]:
    items = letta.conversations.messages.list(conversation_id, order="asc", limit=1000, **kw).items
    texts = [str(m.content) for m in items if m.message_type == "user_message"]
    return [t for t in texts if not t.startswith('{"type": "heartbeat"')]  # the loop's own heartbeats


# ---- no worker needed --------------------------------------------------------------------------------------


def test_create_list_retrieve_update_delete(letta: Letta) -> None:
    agent_id = _new_agent(letta, "crud")
    conv = letta.conversations.create(agent_id=agent_id, summary="user-42 support", description="billing",
                                      model="engram/offline", context_window_limit=8000)  # fmt: skip
    assert conv.id.startswith("conv-") and conv.agent_id == agent_id
    assert (conv.summary, conv.description, conv.model, conv.context_window_limit) == (
        "user-42 support",
        "billing",
        "engram/offline",
        8000,
    )
    assert conv.archived is False and conv.in_context_message_ids  # its own system message

    got = letta.conversations.retrieve(conv.id)
    assert got.id == conv.id and got.summary == "user-42 support"
    other = letta.conversations.create(agent_id=agent_id, summary="user-7")
    listed = letta.conversations.list(agent_id=agent_id)
    assert [c.id for c in listed] == [other.id, conv.id]  # newest first
    assert [c.id for c in letta.conversations.list(agent_id=agent_id, order="asc")] == [conv.id, other.id]
    assert [c.id for c in letta.conversations.list(agent_id=agent_id, summary_search="user-42")] == [conv.id]
    assert [c.id for c in letta.conversations.list(agent_id=agent_id, limit=1, after=other.id)] == [conv.id]

    updated = letta.conversations.update(conv.id, archived=True, summary="user-42 (closed)")
    assert (
        updated.archived is True and updated.archived_at is not None and updated.summary == "user-42 (closed)"
    )
    assert [c.id for c in letta.conversations.list(agent_id=agent_id)] == [other.id]
    assert [c.id for c in letta.conversations.list(agent_id=agent_id, archive_status="archived")] == [conv.id]
    assert len(letta.conversations.list(agent_id=agent_id, archive_status="all")) == 2

    letta.conversations.delete(conv.id)
    with pytest.raises(NotFoundError):
        letta.conversations.retrieve(conv.id)
    assert letta.agents.retrieve(agent_id).id == agent_id  # deleting a conversation keeps the agent
    unknown = new_id("conv")
    for call in (lambda: letta.conversations.retrieve(unknown), lambda: letta.conversations.delete(unknown),
                 lambda: letta.conversations.messages.list(unknown).items,
                 lambda: _send(letta, unknown, "hi"),
                 lambda: letta.conversations.create(agent_id=new_id("agent"))):  # fmt: skip
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(UnprocessableEntityError):
        letta.conversations.retrieve("not-a-conversation")


async def test_cancel_touches_only_its_own_conversation(sessions: Any, letta: Letta) -> None:
    agent_id = _new_agent(letta, "cancel")
    a = letta.conversations.create(agent_id=agent_id)
    b = letta.conversations.create(agent_id=agent_id)
    async with sessions.begin() as s:  # a turn queued in A (no worker runs it here)
        run = await runs_repo.create_run(s, DEFAULT_ORG_ID, agent_id, input_messages=[], request_config={},
                                         conversation_id=a.id)  # fmt: skip
    with pytest.raises(ConflictError):
        letta.conversations.cancel(b.id)  # B has nothing active; A's run is not B's to cancel
    with pytest.raises(ConflictError):
        letta.conversations.cancel("default", agent_id=agent_id)
    assert letta.conversations.cancel(a.id) == {run.id: "cancelled"}


# ---- with the worker ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("worker_running")
def test_shared_assistant_threads_are_private_and_memory_is_shared(letta: Letta) -> None:
    agent_id = _new_agent(letta)
    conversations: dict[str, str] = {}

    def conversation_for(user: str) -> str:
        """The tutorial's find-or-create: the user id is kept in the summary."""
        found = letta.conversations.list(agent_id=agent_id, summary_search=user)
        if found:
            return found[0].id
        return letta.conversations.create(agent_id=agent_id, summary=user).id

    said = {"alice": ["My name is Alice.", "Alice asks about invoices."],
            "bob": ["Bob here, hello.", "Bob asks about shipping."],
            "carol": ["Carol checking in.", "Carol asks about refunds."]}  # fmt: skip
    for turn in range(2):
        for user, lines in said.items():
            chunks = _send(letta, conversation_for(user), lines[turn])
            assert isinstance(chunks[-1], LettaStopReason) or any(
                isinstance(c, LettaStopReason) for c in chunks
            )
            conversations[user] = conversation_for(user)
    assert len(set(conversations.values())) == 3
    assert len(letta.conversations.list(agent_id=agent_id)) == 3

    for user, conv_id in conversations.items():
        assert _user_texts(letta, conv_id) == said[user]  # only this user's turns
        context = set(letta.conversations.retrieve(conv_id).in_context_message_ids or [])
        for other, other_id in conversations.items():
            if other != user:
                other_ids = {m.id for m in letta.conversations.messages.list(other_id, limit=1000).items}
                assert not context & other_ids  # never in another user's context window

    # Alice's "My name is Alice." was saved to the shared `human` block: Bob's next context has it.
    human = next(b for b in letta.agents.blocks.list(agent_id) if b.label == "human")
    assert "Alice" in human.value
    assert "Alice" in _said(_send(letta, conversations["bob"], "What is my name?"))
    assert "What is my name?" not in _user_texts(letta, conversations["alice"])

    # The agent's own thread ("default") is separate from every conversation.
    _send(letta, "default", "Default thread hello.", agent_id=agent_id)
    assert _user_texts(letta, "default", agent_id=agent_id) == ["Default thread hello."]
    assert "Default thread hello." not in _user_texts(letta, conversations["carol"])

    # Runs carry their conversation; runs.list filters by it; each thread is its own workflow.
    runs = letta.runs.list(agent_id=agent_id, conversation_id=conversations["carol"]).items
    assert len(runs) == 2 and all(r.conversation_id == conversations["carol"] for r in runs)


@pytest.mark.usefixtures("worker_running")
def test_stream_resume_replays_the_rest_of_the_turn(letta: Letta) -> None:
    agent_id = _new_agent(letta, "resume")
    conv = letta.conversations.create(agent_id=agent_id)
    first = _send(letta, conv.id, "My favorite color is green.")
    seq = [c.seq_id for c in first if getattr(c, "seq_id", None) is not None]
    assert len(seq) >= 2
    resumed = [c for c in letta.conversations.messages.stream(conv.id, starting_after=seq[0])
               if not isinstance(c, LettaPing)]  # fmt: skip
    assert [c.seq_id for c in resumed if getattr(c, "seq_id", None) is not None] == seq[1:]
    assert any(isinstance(c, LettaStopReason) for c in resumed)
    with pytest.raises(NotFoundError):
        list(letta.conversations.messages.stream(letta.conversations.create(agent_id=agent_id).id))


@pytest.mark.usefixtures("worker_running")
def test_fork_copies_history_up_to_the_chosen_message(letta: Letta) -> None:
    agent_id = _new_agent(letta, "fork")
    conv = letta.conversations.create(agent_id=agent_id)
    for text in ("First question.", "Second question.", "Third question."):
        _send(letta, conv.id, text)
    users = [
        m
        for m in letta.conversations.messages.list(conv.id, order="asc").items
        if m.message_type == "user_message"
    ]
    fork = letta.conversations.fork(conv.id, message_id=users[1].id)
    assert fork.id != conv.id and fork.agent_id == agent_id
    assert _user_texts(letta, fork.id) == ["First question.", "Second question."]
    _send(letta, fork.id, "Only in the fork.")
    assert _user_texts(letta, fork.id)[-1] == "Only in the fork."
    assert _user_texts(letta, conv.id) == ["First question.", "Second question.", "Third question."]
    whole = letta.conversations.fork(conv.id)
    assert _user_texts(letta, whole.id) == ["First question.", "Second question.", "Third question."]
    with pytest.raises(NotFoundError):
        letta.conversations.fork(conv.id, message_id=new_id("message"))

    prompt = letta.conversations.recompile(conv.id)
    assert f"CONVERSATION_ID: {conv.id}" in prompt and "A shared assistant." in prompt
    compacted = letta.conversations.messages.compact(conv.id)
    assert compacted.num_messages_after <= compacted.num_messages_before


@pytest.mark.usefixtures("worker_running")
async def test_two_conversations_of_one_agent_run_on_their_own_workflows(
    sessions: Any, aletta: AsyncLetta
) -> None:
    agent = await aletta.agents.create(name="parallel", model="engram/offline",
                                       memory_blocks=[{"label": "human", "value": ""}])  # fmt: skip
    a, b = [await aletta.conversations.create(agent_id=agent.id) for _ in range(2)]

    async def turn(conv_id: str, text: str) -> None:
        stream = await aletta.conversations.messages.create(
            conv_id, messages=[{"role": "user", "content": text}]
        )
        async for _ in stream:
            pass

    await asyncio.gather(turn(a.id, "Hello from A."), turn(b.id, "Hello from B."))
    async with sessions() as s:
        rows = [
            r for r in await runs_repo.list_runs(s, DEFAULT_ORG_ID, agent_id=agent.id) if r.conversation_id
        ]
    assert {r.workflow_id for r in rows} == {f"agent:{agent.id}:conv:{a.id}", f"agent:{agent.id}:conv:{b.id}"}
    assert all(r.status == "completed" for r in rows)
    first, second = sorted(rows, key=lambda r: r.created_at)
    assert second.created_at < first.completed_at  # both were in flight at once (overlap, not a duration)


@pytest.mark.usefixtures("worker_running")
def test_a_conversations_context_window_limit_applies_to_that_thread_only(letta: Letta) -> None:
    agent_id = _new_agent(letta, "small-window")
    tiny = letta.conversations.create(agent_id=agent_id, context_window_limit=50)
    with pytest.raises(APIStatusError) as err:  # the SDK raises the stream's error event
        _send(letta, tiny.id, "Hello.")
    assert "context_window_overflow_in_system_prompt" in str(
        err.value
    )  # its system prompt alone is over 50 tokens
    roomy = letta.conversations.create(agent_id=agent_id)
    assert [c.stop_reason for c in _send(letta, roomy.id, "Hello.") if isinstance(c, LettaStopReason)] == [
        "end_turn"
    ]


@pytest.mark.usefixtures("worker_running")
async def test_deleting_the_agent_ends_its_conversation_workflows(settings: Any, letta: Letta) -> None:
    from temporalio.client import Client, WorkflowExecutionStatus

    agent_id = _new_agent(letta, "deleted-with-threads")
    conv = letta.conversations.create(agent_id=agent_id, summary="will end")
    _send(letta, conv.id, "Hello there.")
    other = letta.conversations.create(agent_id=agent_id, summary="other")
    _send(letta, other.id, "Hi from the other thread.")
    in_conv = letta.runs.list(conversation_id=conv.id)
    assert [r.conversation_id for r in in_conv] == [conv.id]  # runs.list filters by conversation

    client = await Client.connect(settings.temporal_target, namespace=settings.temporal_namespace)
    handle = client.get_workflow_handle(f"agent:{agent_id}:conv:{conv.id}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # idle, waiting for a turn
    letta.agents.delete(agent_id)
    with pytest.raises(NotFoundError):
        letta.conversations.retrieve(conv.id)
    for _ in range(200):  # ends at once, not after the idle timeout
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.05)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
