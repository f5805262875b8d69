"""Dedupe of SDK retries of one send (letta-client retries POSTs on timeout/5xx/409 with no idempotency key).

Every send stores a `request_hash` on its run:
- `otid:<sha256>` of the agent, conversation and the input messages' client `otid`s when the client set any:
  a send carrying the same otids is the same request, whenever it arrives;
- otherwise `body:<sha256>` of the agent, conversation and the canonical JSON body; it only counts as a
  duplicate when the SDK marks the request as a retry (`x-stainless-retry-count` > 0) and the first attempt
  is recent, because two identical bodies sent on purpose ("hi", "hi") are two turns.
A duplicate attaches to the existing run instead of adding a second user turn.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engram.store.models.run import Run

RETRY_WINDOW = timedelta(minutes=10)


def _digest(parts: Any) -> str:
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def request_hash(agent_id: str, conversation_id: str | None, body: dict[str, Any], route: str) -> str:
    """The dedupe key of a send (<= 64 chars, fits `runs.request_hash`)."""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    otids = [m.get("otid") for m in messages if isinstance(m, dict) and m.get("otid")]
    if otids:
        return "otid:" + _digest([agent_id, conversation_id, otids])[:59]
    return "body:" + _digest([agent_id, conversation_id, route, body])[:59]


def retry_count(headers: Any) -> int:
    try:
        return int(headers.get("x-stainless-retry-count") or 0)
    except ValueError:
        return 0


def may_be_duplicate(key: str, retries: int) -> bool:
    """Whether `find_duplicate` has to look: an otid key always, a body key only on an SDK retry."""
    return not (key.startswith("body:") and retries <= 0)


async def find_duplicate(
    session: AsyncSession, org_id: str, agent_id: str, key: str, *, retries: int
) -> Run | None:
    """The run an earlier attempt of this same request started, if this request is a duplicate."""
    from engram.store import runs as runs_repo

    if not may_be_duplicate(key, retries):
        return None
    run = await runs_repo.find_run_by_request_hash(session, org_id, agent_id, key)
    if run is None:
        return None
    if key.startswith("body:"):
        created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
        if datetime.now(UTC) - created > RETRY_WINDOW:
            return None
    return run
