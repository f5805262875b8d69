"""Register a collection route with and without its trailing slash (the SDK uses `/v1/agents/`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


def collection(router: APIRouter, method: str, path: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Like `@router.<method>(path)`, also answering `path + "/"` (hidden from the OpenAPI schema)."""
    route = getattr(router, method)

    def decorate(fn: Any) -> Any:
        route(path + "/", **kwargs)(fn)
        route(path, include_in_schema=False, **kwargs)(fn)
        return fn

    return decorate


def clamp_limit(limit: int | None, default: int, maximum: int = 1000) -> int:
    """Letta's default page size when absent; never more than `maximum` rows per page."""
    if limit is None:
        return default
    return max(1, min(limit, maximum))
