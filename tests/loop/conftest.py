"""Fixtures for the agent loop: a pydantic-converter client, an in-process worker on the module's
task queue, the fake LLM server, and helpers that create agents/runs and send turns like the API does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.workflow_client import default_workflow_input, submit_turn
from engram.config import Settings
from engram.context.compiler import refresh_system_message
from engram.ids import new_id
from engram.schemas.agent import AgentSpec, BlockSpec
from engram.store import agents, runs
from tests.fake_llm import FakeLlmServer
from worker import build_worker
from workflows.agent import AgentWorkflowInput, TurnResult

LLM_CONFIG = {"model": "m", "model_endpoint_type": "openai", "context_window": 128000}


@pytest.fixture(scope="session")
def fake_llm() -> FakeLlmServer:
    return FakeLlmServer.shared()


@pytest.fixture(scope="module")
def loop_settings(settings: Settings, fake_llm: FakeLlmServer) -> Settings:
    return settings.model_copy(update={"openai_base_url": fake_llm.url, "openai_api_key": SecretStr("test")})


@pytest.fixture(scope="module")
async def client(temporal_env: WorkflowEnvironment) -> Client:
    target = temporal_env.client.service_client.config.target_host
    return await Client.connect(target, data_converter=pydantic_data_converter)


@pytest.fixture(scope="module")
async def worker(client: Client, loop_settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    async with build_worker(client, loop_settings, sessions):
        yield


@dataclass
class Loop:
    """Test-side stand-in for the API: create agents and runs, submit turns."""

    client: Client
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    org_id: str

    async def agent(self, model: str, *, agent_type: str = "letta_v1_agent", human: str = "", **spec: Any) -> str:
        async with self.sessions.begin() as s:
            agent = await agents.create_agent(
                s, self.org_id,
                AgentSpec(name="t", model=model, agent_type=agent_type,
                          memory_blocks=[BlockSpec(label="human", value=human), BlockSpec(label="persona", value="I am a test agent.")],
                          **spec),
                llm_config=LLM_CONFIG,
            )  # fmt: skip
            await refresh_system_message(s, self.org_id, agent.id)
        return agent.id

    async def run(self, agent_id: str, text: str, *, conversation_id: str | None = None, **config: Any) -> str:
        async with self.sessions.begin() as s:
            run = await runs.create_run(
                s, self.org_id, agent_id, input_messages=[{"id": new_id("message"), "role": "user", "content": text}],
                request_config=config, conversation_id=conversation_id,
            )  # fmt: skip
        return run.id

    def workflow_input(self, agent_id: str, **overrides: Any) -> AgentWorkflowInput:
        base = default_workflow_input(self.settings, self.org_id, agent_id, None)
        for key, value in overrides.items():
            setattr(base, key, value)
        return base

    async def send(self, agent_id: str, text: str, *, max_steps: int = 50, wait: bool = True,
                   workflow_input: AgentWorkflowInput | None = None, conversation_id: str | None = None,
                   **config: Any) -> tuple[str, TurnResult | None]:  # fmt: skip
        run_id = await self.run(agent_id, text, conversation_id=conversation_id, **config)
        result = await submit_turn(
            self.client, self.settings, org_id=self.org_id, agent_id=agent_id, run_id=run_id, max_steps=max_steps,
            wait=wait, workflow_input=workflow_input, conversation_id=conversation_id,
        )  # fmt: skip
        return run_id, result

    async def wait_run(self, run_id: str, timeout_s: float = 30.0) -> Any:
        for _ in range(int(timeout_s / 0.05)):
            async with self.sessions() as s:
                run = await runs.get_run(s, self.org_id, run_id)
            if run.status in runs.TERMINAL_STATUSES:
                return run
            await asyncio.sleep(0.05)
        raise AssertionError(f"run {run_id} still {run.status}")


@pytest.fixture
def loop(client: Client, loop_settings: Settings, sessions: async_sessionmaker[AsyncSession], worker: None) -> Loop:  # noqa: ARG001
    return Loop(client, loop_settings, sessions, new_id("org"))
