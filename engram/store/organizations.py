"""Organizations (tenants)."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.store.models import Organization


async def ensure_organization(session: AsyncSession, org_id: str, name: str = "default") -> None:
    await session.execute(insert(Organization).values(id=org_id, name=name).on_conflict_do_nothing())
