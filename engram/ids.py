"""Letta-style ids: `<prefix>-<uuid4>`, lowercase, validated the way Letta validates path ids."""

from __future__ import annotations

import re
import uuid

PREFIXES = (
    "agent", "message", "run", "step", "block", "tool", "passage", "archive", "source",
    "file", "identity", "group", "conv", "user", "org", "sandbox", "provider", "model",
    "mcp_server", "job", "apikey", "ping", "schedule", "file_agent",
)  # fmt: skip

DEFAULT_ORG_ID = "org-00000000-0000-4000-8000-000000000000"
DEFAULT_USER_ID = "user-00000000-0000-4000-8000-000000000000"

_UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def id_from_uuid(prefix: str, value: uuid.UUID | str) -> str:
    """Build an id from a uuid chosen elsewhere (e.g. `workflow.uuid4()`), so replays mint the same id."""
    return f"{prefix}-{uuid.UUID(str(value))}"


def is_valid_id(value: str, prefix: str) -> bool:
    return re.fullmatch(rf"{re.escape(prefix)}-{_UUID4}", value) is not None


def derived_uuid(*parts: str) -> str:
    """A stable uuid4-shaped value from names (uuid5 with the version nibble forced to 4).

    Used for ids that must be the same on every retry: e.g. the message rows of step N of run R.
    """
    raw = uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts))
    b = bytearray(raw.bytes)
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def derived_id(prefix: str, *parts: str) -> str:
    return f"{prefix}-{derived_uuid(*parts)}"
