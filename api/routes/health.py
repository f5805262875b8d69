"""GET /v1/health/ — letta-client's `client.health()`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/health/", response_model=Health)
@router.get("/health", response_model=Health, include_in_schema=False)
async def health() -> Health:
    from api.app import VERSION

    return Health(status="ok", version=VERSION)
