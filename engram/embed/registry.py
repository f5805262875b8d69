"""Embedding handles -> embedders and their Letta `EmbeddingConfig` shape.

Add a provider by adding an `EmbeddingInfo` to `_KNOWN` (or a prefix rule in `resolve_embedder`);
`engram/minilm` (offline ONNX MiniLM) is registered beside the default hash embedder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engram.config import Settings
from engram.embed.base import Embedder
from engram.embed.hashing import HASH_EMBEDDING_DIM, HASH_EMBEDDING_HANDLE, HashEmbedder
from engram.embed.minilm import DIMENSION as MINILM_DIMENSION
from engram.embed.minilm import HANDLE as MINILM_HANDLE
from engram.embed.openai_embedder import OPENAI_EMBEDDING_DIMS, OpenAiEmbedder
from engram.errors import InvalidInput


@dataclass(frozen=True)
class EmbeddingInfo:
    handle: str
    provider: str
    model: str
    dimension: int
    endpoint_type: str  # a value of letta-client's embedding_endpoint_type enum
    chunk_size: int = 300


_KNOWN: dict[str, EmbeddingInfo] = {
    HASH_EMBEDDING_HANDLE: EmbeddingInfo(
        HASH_EMBEDDING_HANDLE, "engram", "hash-embedding", HASH_EMBEDDING_DIM, "hugging-face"
    ),
    MINILM_HANDLE: EmbeddingInfo(
        MINILM_HANDLE, "engram", "all-MiniLM-L6-v2-int8", MINILM_DIMENSION, "hugging-face"
    ),
    **{
        f"openai/{model}": EmbeddingInfo(f"openai/{model}", "openai", model, dim, "openai", chunk_size=300)
        for model, dim in OPENAI_EMBEDDING_DIMS.items()
    },
}
_shared: dict[str, Embedder] = {}  # one loaded model per process (MiniLM costs ~0.4 s and ~600 MB to load)


def list_embeddings(settings: Settings) -> list[EmbeddingInfo]:
    """Offline embedders always; hosted ones when their key is configured."""
    return [i for i in _KNOWN.values() if i.provider != "openai" or settings.openai_api_key is not None]


def embedding_info(handle: str) -> EmbeddingInfo:
    info = _KNOWN.get(handle)
    if info is None:
        raise InvalidInput(f"unknown embedding model {handle!r}; available: {', '.join(_KNOWN)}")
    return info


def embedding_config(handle: str) -> dict[str, Any]:
    """The `EmbeddingConfig` dict stored on an agent and shown on the wire."""
    info = embedding_info(handle)
    return {
        "embedding_endpoint_type": info.endpoint_type, "embedding_endpoint": None,
        "embedding_model": info.model, "embedding_dim": info.dimension,
        "embedding_chunk_size": info.chunk_size, "handle": info.handle, "batch_size": 32,
    }  # fmt: skip


def resolve_embedder(handle: str | None, settings: Settings) -> Embedder:
    """The embedder for `handle` (None = the configured default)."""
    info = embedding_info(handle or settings.default_embedding)
    if info.handle == HASH_EMBEDDING_HANDLE:
        return HashEmbedder()
    if info.handle == MINILM_HANDLE:
        if MINILM_HANDLE not in _shared:
            from engram.embed.minilm import MiniLmEmbedder

            _shared[MINILM_HANDLE] = MiniLmEmbedder()
        return _shared[MINILM_HANDLE]
    if info.provider == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAiEmbedder(info.model, key, settings.openai_base_url)
    raise InvalidInput(f"embedding model {info.handle!r} has no embedder in this build")
