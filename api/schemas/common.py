"""Wire-model basics shared by every resource: lenient request bodies, delete acknowledgements."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class LettaRequest(BaseModel):
    """Request bodies ignore unknown fields: newer SDKs add fields an older server must tolerate."""

    model_config = ConfigDict(extra="ignore")


class DeleteResponse(BaseModel):
    """What Letta answers a delete with; the SDK types deletes as `object`, so any JSON would do."""

    message: str


Order = Literal["asc", "desc"]


def is_descending(order: Order | None, ascending: bool | None, default_descending: bool) -> bool:
    """`order` wins; the legacy `ascending` flag is honoured when `order` is absent."""
    if order is not None:
        return order == "desc"
    if ascending is not None:
        return not ascending
    return default_descending
