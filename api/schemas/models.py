"""Model listings (`/v1/models/`, `/v1/models/embedding`) and the `llm_config` / `embedding_config` shapes.

The LLM registry (`engram.llm.registry`) knows which handles exist; this module only renders them in
the shapes letta-client parses (`Model` extends `LLMConfig`, `EmbeddingModel` extends `EmbeddingConfig`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from engram.config import Settings
from engram.embed.registry import EmbeddingInfo
from engram.errors import InvalidInput, NotFound

# Values letta-client's ProviderType enum accepts; anything else is shown as "openai" (OpenAI-compatible).
_PROVIDER_TYPES = {"anthropic", "azure", "bedrock", "deepseek", "google_ai", "google_vertex", "groq", "letta",
                   "ollama", "openai", "together", "vllm", "openrouter", "xai", "mistral"}  # fmt: skip


def _registry() -> Any:
    from engram.llm import registry

    return registry


def model_info(handle: str) -> Any:
    """The registry's ModelInfo for `handle`; an unknown handle is the caller's mistake (422)."""
    try:
        return _registry().model_info(handle)
    except InvalidInput:
        raise
    except (KeyError, ValueError, NotFound) as exc:
        raise InvalidInput(f"unknown model {handle!r}: {exc}") from exc


def llm_config(handle: str, context_window_limit: int | None = None) -> dict[str, Any]:
    info = model_info(handle)
    window = (
        info.context_window
        if context_window_limit is None
        else min(info.context_window, context_window_limit)
    )
    return {
        "model": info.model, "model_endpoint_type": info.model_endpoint_type, "model_endpoint": None,
        "provider_name": info.provider, "provider_category": "base", "context_window": window,
        "handle": info.handle, "temperature": 0.7, "max_tokens": None, "put_inner_thoughts_in_kwargs": False,
        "enable_reasoner": False, "parallel_tool_calls": False,
    }  # fmt: skip


class ModelOut(BaseModel):
    """letta-client `Model`."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    handle: str
    model: str
    display_name: str
    provider_type: str
    provider_name: str
    provider_category: str = "base"
    model_endpoint_type: str
    model_endpoint: str | None = None
    model_type: str = "llm"
    context_window: int
    max_context_window: int

    @classmethod
    def from_info(cls, info: Any) -> ModelOut:
        # Engram's own models show as "letta" (the SDK's enum has no "engram"); others as OpenAI-compatible.
        provider_type = (
            info.provider
            if info.provider in _PROVIDER_TYPES
            else "letta"
            if info.provider == "engram"
            else "openai"
        )
        return cls(
            name=info.model, handle=info.handle, model=info.model, display_name=info.handle,
            provider_type=provider_type, provider_name=info.provider, model_endpoint_type=info.model_endpoint_type,
            context_window=info.context_window, max_context_window=info.context_window,
        )  # fmt: skip


class EmbeddingModelOut(BaseModel):
    """letta-client `EmbeddingModel`."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    handle: str
    display_name: str
    embedding_model: str
    embedding_dim: int
    embedding_endpoint_type: str
    embedding_endpoint: str | None = None
    embedding_chunk_size: int
    provider_name: str
    provider_type: str
    model_type: str = "embedding"

    @classmethod
    def from_info(cls, info: EmbeddingInfo) -> EmbeddingModelOut:
        return cls(
            name=info.model, handle=info.handle, display_name=info.handle, embedding_model=info.model,
            embedding_dim=info.dimension, embedding_endpoint_type=info.endpoint_type,
            embedding_chunk_size=info.chunk_size, provider_name=info.provider,
            provider_type=info.provider if info.provider in _PROVIDER_TYPES else "letta",
        )  # fmt: skip


def list_models(settings: Settings) -> list[ModelOut]:
    return [ModelOut.from_info(i) for i in _registry().list_models(settings)]
