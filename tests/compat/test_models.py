"""`client.models.list()` and `client.models.embeddings.list()`."""

from __future__ import annotations

import pytest
from letta_client import AsyncLetta, Letta, UnprocessableEntityError

from engram.config import Settings


def test_models_list_includes_the_offline_model(letta: Letta) -> None:
    models = letta.models.list()
    offline = next(m for m in models if m.handle == "engram/offline")
    assert offline.context_window > 0 and offline.max_context_window == offline.context_window
    assert offline.api_model_endpoint_type and offline.name and offline.provider_type
    agent = letta.agents.create(name="model-user", model=offline.handle)
    assert agent.llm_config.handle == offline.handle


async def test_embedding_models(aletta: AsyncLetta) -> None:
    models = await aletta.models.embeddings.list()
    handles = {m.handle: m for m in models}
    assert handles["engram/hash-embedding"].embedding_dim == 384
    agent = await aletta.agents.create(name="embed-user", embedding="engram/hash-embedding")
    assert agent.embedding_config is not None and agent.embedding_config.handle == "engram/hash-embedding"


def test_letta_quickstart_embedding_handle_is_accepted(letta: Letta, settings: Settings) -> None:
    """Letta's quickstart names `openai/text-embedding-3-small`; the agent is created with Letta's config for it."""
    agent = letta.agents.create(name="quickstart", embedding="openai/text-embedding-3-small")
    assert agent.embedding_config is not None and agent.embedding_config.embedding_dim == 1536
    assert agent.embedding_config.embedding_endpoint_type == "openai"
    if (
        settings.openai_api_key is None
    ):  # archival memory then says what is missing, rather than failing later
        with pytest.raises(UnprocessableEntityError, match="OPENAI_API_KEY"):
            letta.agents.passages.create(agent.id, text="needs a hosted embedder")
