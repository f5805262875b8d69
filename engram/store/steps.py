"""Steps: one LLM call each, keyed by the id the loop derives from run id + step index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.store.models import Step


async def record_step(session: AsyncSession, org_id: str, values: dict[str, Any]) -> None:
    """Insert once; a retried step with the same id is a no-op."""
    await session.execute(
        insert(Step).values(organization_id=org_id, **values).on_conflict_do_nothing(index_elements=["id"])
    )


async def list_run_steps(session: AsyncSession, org_id: str, run_id: str) -> list[Step]:
    rows = await session.scalars(
        select(Step).where(Step.run_id == run_id, Step.organization_id == org_id).order_by(Step.step_index)
    )
    return list(rows)
