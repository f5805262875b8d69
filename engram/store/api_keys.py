"""Per-organization API keys: only a sha256 of each key is stored; the key itself is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import NotFound
from engram.ids import new_id
from engram.store.models import ApiKey, Organization

KEY_PREFIX = "sk-engram-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    key: str  # only ever returned at creation


async def create_organization(session: AsyncSession, name: str) -> Organization:
    org = Organization(id=new_id("org"), name=name)
    session.add(org)
    await session.flush()
    return org


async def list_organizations(session: AsyncSession) -> list[Organization]:
    return list(await session.scalars(select(Organization).order_by(Organization.created_at, Organization.id)))


async def issue_key(session: AsyncSession, org_id: str, name: str = "") -> IssuedKey:
    if await session.get(Organization, org_id) is None:
        raise NotFound("organization", org_id)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(id=new_id("apikey"), organization_id=org_id, name=name, key_hash=hash_key(key),
                    key_prefix=key[: len(KEY_PREFIX) + 4])  # fmt: skip
    session.add(record)
    await session.flush()
    return IssuedKey(record, key)


async def list_keys(session: AsyncSession, org_id: str) -> list[ApiKey]:
    rows = await session.scalars(select(ApiKey).where(ApiKey.organization_id == org_id).order_by(ApiKey.created_at))
    return list(rows)


async def revoke_key(session: AsyncSession, key_id: str) -> ApiKey:
    record = await session.get(ApiKey, key_id)
    if record is None:
        raise NotFound("api key", key_id)
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
        await session.flush()
    return record


async def organization_for_key(session: AsyncSession, key: str) -> str | None:
    """The organization a live (unrevoked) key belongs to, or None."""
    return await session.scalar(
        select(ApiKey.organization_id).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
