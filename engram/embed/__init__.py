"""Text embedders for archival memory: an `Embedder` protocol plus a handle -> embedder registry."""

from engram.embed.base import Embedder
from engram.embed.registry import EmbeddingInfo, embedding_config, list_embeddings, resolve_embedder

__all__ = ["Embedder", "EmbeddingInfo", "embedding_config", "list_embeddings", "resolve_embedder"]
