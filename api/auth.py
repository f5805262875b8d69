"""Who is calling: bearer keys resolved to an organization before any /v1 route runs.

Modes: no key configured = open (loopback only, everything in the default organization);
`ENGRAM_API_KEY` = single tenant (that key, default organization); `ENGRAM_ADMIN_KEY` = multi-tenant
(the admin key manages organizations and their keys; each org key sees only its organization's rows).
letta-client sends `Authorization: Bearer <api_key>`. Health stays open for probes.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from pydantic import SecretStr

from api.deps import Actor
from engram.ids import DEFAULT_ORG_ID
from engram.store.api_keys import organization_for_key


def _secret(value: SecretStr | str | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _matches(token: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(token.encode(), expected.encode())


async def require_api_key(request: Request) -> None:
    settings = request.app.state.settings
    api_key, admin_key = _secret(settings.api_key), _secret(settings.admin_key)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    actor: Actor | None = None
    if token and _matches(token, admin_key):
        actor = Actor(org_id=DEFAULT_ORG_ID, is_admin=True)
    elif token and _matches(token, api_key):
        actor = Actor(org_id=DEFAULT_ORG_ID)
    elif token and admin_key is not None:
        async with request.app.state.sessions() as session:
            org_id = await organization_for_key(session, token)
        actor = Actor(org_id=org_id) if org_id else None
    elif api_key is None and admin_key is None:
        actor = Actor(org_id=DEFAULT_ORG_ID)  # open mode: the server only listens on loopback
    if actor is None:
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.actor = actor
