"""Vectors of recall-memory messages, one row per (message, embedding model), for hybrid conversation_search.

A side table rather than a column on `messages`: a message can carry vectors from several models (an
agent's embedding model may change), and rows are written lazily by the search itself, so the hot
message-insert path never waits on an embedder.
"""

from __future__ import annotations

from pgvector.sqlalchemy import Vector
from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base


class MessageEmbedding(Base):
    __tablename__ = "message_embeddings"
    __table_args__ = (Index("ix_message_embeddings_agent_model", "agent_id", "embedding_model"),)

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    embedding_model: Mapped[str] = mapped_column(String(200), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[list[float]] = mapped_column(Vector())
