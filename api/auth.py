"""Bearer-key check for single-tenant mode (`ENGRAM_API_KEY`); without a key the API is loopback-only.

letta-client sends `Authorization: Bearer <api_key>` when given one. Health stays open so load balancers
and compose healthchecks can probe it.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from pydantic import SecretStr


async def require_api_key(request: Request) -> None:
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    secret = expected.get_secret_value() if isinstance(expected, SecretStr) else str(expected)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), secret.encode()):
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key: send 'Authorization: Bearer <ENGRAM_API_KEY>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
