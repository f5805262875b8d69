"""OpenAI (and OpenAI-compatible) embeddings, for `openai/text-embedding-*` handles such as Letta's quickstart uses.

The SDK is imported on first use; a missing key is reported when embedding, not when an agent is created
with the handle (the same rule as LLM handles), so agents can be set up before keys are configured.
"""

from __future__ import annotations

from typing import Any

from engram.errors import InvalidInput

# Native output sizes; Letta stores these in EmbeddingConfig.embedding_dim.
OPENAI_EMBEDDING_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAiEmbedder:
    def __init__(self, model: str, api_key: str | None, base_url: str | None) -> None:
        self.handle = f"openai/{model}"
        self.model = model
        self.dimension = OPENAI_EMBEDDING_DIMS[model]
        self._api_key = api_key
        self._base_url = base_url
        self._client: Any = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if self._api_key is None:
            raise InvalidInput(f"embedding with {self.handle!r} needs OPENAI_API_KEY to be set on the server")
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=self._api_key, base_url=self._base_url)
        response = await self._client.embeddings.create(model=self.model, input=texts)
        return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
