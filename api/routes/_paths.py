"""Register a collection route with and without its trailing slash (the SDK uses `/v1/agents/`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


def collection(
    router: APIRouter, method: str, path: str, *, sdk_slash: bool = True, **kwargs: Any
) -> Callable[[Any], Any]:
    """Like `@router.<method>(path)`, answering both `path` and `path + "/"`.

    The OpenAPI schema shows the spelling the SDK sends: top-level collections with the slash
    (`/v1/agents/`), nested ones without (`/v1/agents/{id}/tools`), so set `sdk_slash=False` for those.
    """
    route = getattr(router, method)
    shown, hidden = (path + "/", path) if sdk_slash else (path, path + "/")

    def decorate(fn: Any) -> Any:
        route(shown, **kwargs)(fn)
        route(hidden, include_in_schema=False, **kwargs)(fn)
        return fn

    return decorate


def clamp_limit(limit: int | None, default: int, maximum: int = 1000) -> int:
    """Letta's default page size when absent; never more than `maximum` rows per page."""
    if limit is None:
        return default
    return max(1, min(limit, maximum))
