"""Chaos tests reuse the agent-loop fixtures (real Postgres, real Temporal, fake LLM)."""

from tests.loop.conftest import client, fake_llm, loop, loop_settings, worker  # noqa: F401
