"""Agent-to-agent messaging (Letta's multi-agent tools) on the real loop, driven by the offline model's
phrases ("ask agent <id>: ...", "tell agent <id>: ...", "ask agents tagged <tag>: ...")."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import select

from engram.context.compiler import refresh_system_message
from engram.ids import new_id
from engram.schemas.agent import AgentSpec, BlockSpec
from engram.store import agents, blocks, messages
from engram.store.models import Run
from tests.fake_llm import FakeReply
from tests.loop.conftest import LLM_CONFIG
from tests.loop.test_worker_crash import _spawn

WAIT = "send_message_to_agent_and_wait_for_reply"
MULTI = ["send_message_to_agent_and_wait_for_reply", "send_message_to_agent_async", "send_message_to_agents_matching_tags"]


async def _agent(loop, name: str, *, model: str = "engram/offline", org_id: str | None = None, tools: list[str] | None = None,
                 block_ids: list[str] | None = None, human: bool = True, tags: list[str] | None = None) -> str:  # fmt: skip
    org = org_id or loop.org_id
    own = [BlockSpec(label="persona", value=f"I am {name}.")] + ([BlockSpec(label="human", value="")] if human else [])
    async with loop.sessions.begin() as s:
        agent = await agents.create_agent(
            s, org, AgentSpec(name=name, model=model, agent_type="memgpt_v2_agent", memory_blocks=own,
                              block_ids=block_ids or [], tools=tools or [], tags=tags or []),
            llm_config=LLM_CONFIG,
        )  # fmt: skip
        await refresh_system_message(s, org, agent.id)
    return agent.id


async def _tool_result(loop, run_id: str, tool: str) -> tuple[str, str]:
    """(status, text) of the run's call to `tool`."""
    async with loop.sessions() as s:
        rows = await messages.run_messages(s, loop.org_id, run_id)
    ret = next(r for r in rows if r.role == "tool" and r.name == tool)
    return ret.tool_returns[0]["status"], ret.text


async def _runs_of(loop, agent_id: str) -> list[Run]:
    async with loop.sessions() as s:
        return list(await s.scalars(select(Run).where(Run.agent_id == agent_id).order_by(Run.created_at)))


async def test_wait_for_reply_round_trip_the_receiver_sees_the_sender(loop) -> None:
    sender = await _agent(loop, "sender", tools=MULTI)
    receiver = await _agent(loop, "receiver")
    run_id, result = await loop.send(sender, f"ask agent {receiver}: remember that my name is Ada")
    assert result.status == "completed"
    status, text = await _tool_result(loop, run_id, WAIT)
    assert status == "success"
    reply = json.loads(text)
    assert reply["agent_id"] == receiver and "Ada" in " ".join(reply["response"])

    (their_run,) = await _runs_of(loop, receiver)
    assert their_run.status == "completed" and their_run.request_config["multi_agent_chain"] == [sender]
    async with loop.sessions() as s:
        incoming = next(r for r in await messages.run_messages(s, loop.org_id, their_run.id) if r.role == "user")
        human = await blocks.get_agent_block_by_label(s, loop.org_id, receiver, "human")
    assert incoming.sender_id == sender and incoming.name == "sender"
    assert incoming.text.startswith(f"[Incoming message from agent with ID '{sender}'")
    assert "Name: Ada" in human.value
    async with loop.sessions() as s:
        answer = [r for r in await messages.run_messages(s, loop.org_id, run_id) if r.role == "assistant"][-1]
    assert "Ada" in json.dumps(answer.tool_calls)  # the sender told its user what the other agent said


async def test_async_message_returns_at_once_and_is_delivered(loop) -> None:
    sender = await _agent(loop, "notifier", tools=MULTI)
    receiver = await _agent(loop, "listener")
    run_id, result = await loop.send(sender, f"tell agent {receiver}: remember that the deploy is on Friday")
    assert result.status == "completed"
    status, text = await _tool_result(loop, run_id, "send_message_to_agent_async")
    assert status == "success" and text.startswith(f"Successfully sent message to agent {receiver}")
    (their_run,) = await _runs_of(loop, receiver)
    await loop.wait_run(their_run.id)
    async with loop.sessions() as s:
        human = await blocks.get_agent_block_by_label(s, loop.org_id, receiver, "human")
    assert "deploy is on Friday" in human.value


async def test_loops_are_refused_and_messages_stay_in_the_organization(loop) -> None:
    a = await _agent(loop, "a", tools=MULTI)
    b = await _agent(loop, "b", tools=MULTI)
    outsider = await _agent(loop, "outsider", org_id=new_id("org"))

    run_id, _ = await loop.send(a, f"ask agent {a}: hello me")
    assert await _tool_result(loop, run_id, WAIT) == ("error", "Error: an agent cannot send a message to itself")

    run_id, _ = await loop.send(a, f"ask agent {outsider}: hello")
    assert await _tool_result(loop, run_id, WAIT) == ("error", f"Error: agent {outsider} not found")
    assert await _runs_of(loop, outsider) == []

    # b is asked to wait on a, which is itself waiting for b: b's call is refused, so nothing deadlocks.
    run_id, result = await loop.send(a, f"ask agent {b}: ask agent {a}: are you there?")
    assert result.status == "completed"
    status, text = await _tool_result(loop, run_id, WAIT)
    assert status == "success" and "already waiting" in text
    (b_run,) = await _runs_of(loop, b)
    assert (await _tool_result(loop, b_run.id, WAIT))[0] == "error"


async def test_supervisor_and_workers_coordinate_through_a_shared_block(loop) -> None:
    async with loop.sessions.begin() as s:
        board = await blocks.create_block(s, loop.org_id, BlockSpec(label="blackboard", value="Status board:"))
    supervisor = await _agent(loop, "supervisor", tools=MULTI, block_ids=[board.id])
    workers = [await _agent(loop, f"worker{i}", block_ids=[board.id], human=False, tags=["worker"]) for i in (1, 2)]
    await _agent(loop, "bystander", tags=["other"])

    for worker, task in zip(workers, ("alpha", "beta"), strict=True):
        _, result = await loop.send(supervisor, f"ask agent {worker}: remember that task {task} is done")
        assert result.status == "completed"
    run_id, _ = await loop.send(supervisor, "ask agents tagged worker: hello team")
    status, text = await _tool_result(loop, run_id, "send_message_to_agents_matching_tags")
    assert status == "success"
    assert sorted(r["agent_id"] for r in json.loads(text)) == sorted(workers)  # not the bystander, not itself

    async with loop.sessions.begin() as s:
        value = (await blocks.get_block(s, loop.org_id, board.id)).value
        prompt = (await refresh_system_message(s, loop.org_id, supervisor)).text
    assert value.count("task alpha is done") == 1 and value.count("task beta is done") == 1
    assert "task alpha is done" in prompt and "task beta is done" in prompt  # the supervisor reads the board


async def test_a_wait_for_reply_survives_a_worker_kill(loop, fake_llm) -> None:
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [FakeReply.text("warm"), FakeReply.text("first try", delay_s=15), FakeReply.text("the answer is 42")])
    task_queue = f"ma-crash-{uuid.uuid4().hex[:8]}"
    loop.settings = loop.settings.model_copy(update={"task_queue": task_queue})
    sender = await _agent(loop, "asker", tools=MULTI)
    slow = await _agent(loop, "slow", model=f"openai/{model}")
    first = _spawn(loop, task_queue)
    second = None
    try:
        await loop.send(slow, "warm up", workflow_input=loop.workflow_input(slow, llm_heartbeat_timeout_s=5.0,
                                                                              llm_retry_initial_interval_s=0.2))
        fast = loop.workflow_input(sender, llm_heartbeat_timeout_s=5.0, tools_heartbeat_floor_s=5.0)
        run_id, _ = await loop.send(sender, f"ask agent {slow}: what is the answer?", wait=False, workflow_input=fast)
        for _ in range(400):
            if len(fake_llm.requests(model)) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(fake_llm.requests(model)) >= 2, "the other agent never started working"
        first.kill()
        first.wait()
        second = _spawn(loop, task_queue)
        run = await loop.wait_run(run_id, timeout_s=90)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert run.status == "completed"
    status, text = await _tool_result(loop, run_id, WAIT)
    assert status == "success" and json.loads(text)["response"] == ["the answer is 42"], text
    assert len(await _runs_of(loop, slow)) == 2  # warm-up + the one message: delivered once
    async with loop.sessions() as s:
        slow_rows = await messages.list_messages(s, loop.org_id, slow, order="asc")
    assert [r.text for r in slow_rows if r.role == "assistant"] == ["warm", "the answer is 42"]
