"""/v1/models/ (LLM handles) and /v1/models/embedding (embedding handles)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep
from api.routes._paths import collection
from api.schemas.models import EmbeddingModelOut, ModelOut, list_models
from engram.embed.registry import list_embeddings

router = APIRouter(tags=["models"])


@collection(router, "get", "/models", response_model=list[ModelOut])
async def list_llm_models(settings: SettingsDep) -> list[ModelOut]:
    return list_models(settings)


@collection(router, "get", "/models/embedding", sdk_slash=False, response_model=list[EmbeddingModelOut])
async def list_embedding_models(settings: SettingsDep) -> list[EmbeddingModelOut]:
    return [EmbeddingModelOut.from_info(i) for i in list_embeddings(settings)]
