"""A quiet process gives back its Postgres backends and its idle agents' cached windows."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from engram.runtime.housekeeping import keep_lean
from engram.store.db import create_engine, release_if_quiet


async def _backends(engine, application_name: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"), {"n": application_name}
        ))  # fmt: skip


async def _backends_settle(engine, application_name: str, expected: int, within_s: float = 5.0) -> int:
    """The backend count once it reaches `expected` or `within_s` passes. A closed connection's backend
    leaves pg_stat_activity a moment after the client hangs up (it exits on its own), so under load an
    immediate count can still see it."""
    count = await _backends(engine, application_name)
    for _ in range(int(within_s / 0.05)):
        if count == expected:
            break
        await asyncio.sleep(0.05)
        count = await _backends(engine, application_name)
    return count


async def test_a_quiet_pool_closes_its_connections_and_stays_usable(database_url: str, engine) -> None:
    name = "engram-housekeeping-test"
    url = database_url + ("&" if "?" in database_url else "?") + f"application_name={name}"
    pool_engine = create_engine(url, pool_size=5)
    try:
        async def use() -> None:
            async with pool_engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(0.05)"))

        await asyncio.gather(*(use() for _ in range(4)))  # a burst: four backends stay pooled
        assert await _backends(engine, name) == 4
        assert not await release_if_quiet(pool_engine, quiet_s=3600)  # used a moment ago: kept
        async with pool_engine.connect() as held:  # one in use: nothing is closed under it
            await held.execute(text("SELECT 1"))
            assert not await release_if_quiet(pool_engine, quiet_s=0)
        assert await release_if_quiet(pool_engine, quiet_s=0)
        assert await _backends_settle(engine, name, 0) == 0
        await use()  # and the engine opens a connection again when asked
        assert await _backends(engine, name) == 1
    finally:
        await pool_engine.dispose()


class _Cache:
    def __init__(self) -> None:
        self.sweeps = 0

    def drop_idle(self) -> int:
        self.sweeps += 1
        return 1


async def test_keep_lean_sweeps_caches_and_releases_the_pool_until_cancelled(database_url: str, engine) -> None:
    name = "engram-keep-lean-test"
    url = database_url + ("&" if "?" in database_url else "?") + f"application_name={name}"
    pool_engine, cache = create_engine(url, pool_size=2), _Cache()
    try:
        async with pool_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert await _backends(engine, name) == 1
        task = asyncio.create_task(keep_lean(pool_engine, [cache], every_s=0.05, quiet_s=0.1))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if cache.sweeps >= 3 and await _backends(engine, name) == 0:
                break
        task.cancel()
        assert cache.sweeps >= 3 and await _backends_settle(engine, name, 0) == 0
    finally:
        await pool_engine.dispose()
