"""`engram keys`: manage organizations and their API keys straight in the database (no API needed)."""

from __future__ import annotations

from engram.errors import InvalidInput
from engram.store import api_keys
from engram.store.db import create_engine, session_factory


async def run_keys_command(url: str, command: str, target: str, name: str) -> list[str]:
    """Run one keys command and return the lines to print; a new key is printed once, never stored."""
    engine = create_engine(url, pool_size=1)
    try:
        async with session_factory(engine).begin() as session:
            if command == "create-org":
                if not target:
                    raise InvalidInput("usage: engram keys create-org NAME")
                org = await api_keys.create_organization(session, target)
                return [f"{org.id}\t{org.name}"]
            if command == "list-orgs":
                return [f"{org.id}\t{org.name}" for org in await api_keys.list_organizations(session)]
            if not target:
                raise InvalidInput(f"usage: engram keys {command} {'KEY_ID' if command == 'revoke' else 'ORG_ID'}")
            if command == "issue":
                issued = await api_keys.issue_key(session, target, name)
                return [f"{issued.record.id}\t{issued.key}", "store this key now: it is not shown again"]
            if command == "list":
                return [
                    f"{k.id}\t{k.key_prefix}...\t{k.name}\t{'revoked' if k.revoked_at else 'active'}"
                    for k in await api_keys.list_keys(session, target)
                ]
            if command == "revoke":
                record = await api_keys.revoke_key(session, target)
                return [f"{record.id}\trevoked"]
            raise InvalidInput(f"unknown keys command {command!r}")
    finally:
        await engine.dispose()
