"""Order-relative cursor pagination, the way letta-client's auto-pagination expects it.

`after=X` means "rows that come after X in the *requested* order" and `before=X` "rows that come
before X in that order", so `order=desc&after=X` pages towards older rows. The SDK keeps asking
with `after=<last id>` until a page is empty, so an unknown cursor yields an empty page (iteration
terminates) rather than an error or the first page again (an endless loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, false, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


async def cursor_condition(
    session: AsyncSession, id_column: InstrumentedAttribute[Any], order_columns: Sequence[Any], cursor_id: str,
    *, forward: bool,
) -> Any:  # fmt: skip
    """Rows strictly after (`forward`) or before the cursor row in ascending `order_columns` order."""
    values = (await session.execute(select(*order_columns).where(id_column == cursor_id))).first()
    if values is None:
        return false()
    left, right = tuple_(*order_columns), tuple_(*values)
    return left > right if forward else left < right


async def paginate(
    session: AsyncSession, stmt: Select[Any], *, id_column: InstrumentedAttribute[Any],
    order_columns: Sequence[Any], after: str | None = None, before: str | None = None,
    limit: int | None = None, descending: bool = False,
) -> list[Any]:  # fmt: skip
    """Apply cursors, ordering and limit to `stmt` (which selects one entity) and return the page.

    `order_columns` must end in a unique column (usually the id) so the order is total. With only
    `before` set, the page is the `limit` rows nearest the cursor, still returned in requested order.
    """
    if after is not None:
        stmt = stmt.where(
            await cursor_condition(session, id_column, order_columns, after, forward=not descending)
        )
    if before is not None:
        stmt = stmt.where(
            await cursor_condition(session, id_column, order_columns, before, forward=descending)
        )
    # Walk from the `before` side when only `before` is given, so the page touches the cursor.
    reverse = before is not None and after is None
    walk_desc = descending != reverse
    stmt = stmt.order_by(*[c.desc() if walk_desc else c.asc() for c in order_columns])
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = list((await session.scalars(stmt)).all())
    return rows[::-1] if reverse else rows


async def page_attached(
    session: AsyncSession, entity: Any, link: Any, link_column: str, org_id: str, agent_id: str, *,
    after: str | None = None, before: str | None = None, limit: int | None = None, descending: bool = True,
) -> list[Any]:  # fmt: skip
    """A page of the `entity` rows (blocks, tools) attached to an agent through the `link` table."""
    stmt = (
        select(entity)
        .join(link, getattr(link, link_column) == entity.id)
        .where(link.agent_id == agent_id, link.organization_id == org_id)
    )
    return await paginate(
        session, stmt, id_column=entity.id, order_columns=[entity.created_at, entity.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip
