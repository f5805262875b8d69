"""Wire-model basics shared by every resource: lenient request bodies, delete acknowledgements."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


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


INT32_MAX = 2_147_483_647
Tag = Annotated[str, Field(max_length=200)]
Int32 = Annotated[int, Field(ge=1, le=INT32_MAX)]


def _valid_timezone(value: str | None) -> str | None:
    """An IANA zone name; an unknown zone would only fail later, when the prompt renders local time."""
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as 'Europe/Paris'") from exc
    return value


Timezone = Annotated[str | None, Field(max_length=64), AfterValidator(_valid_timezone)]
Handle = Annotated[str, Field(min_length=1, max_length=200)]
