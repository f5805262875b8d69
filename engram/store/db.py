"""One async engine and session factory per process; built at start-up, disposed at shutdown.

Stale connections (PostgreSQL restarted under a running process) are caught by pinging a pooled connection
before use, but only when that can matter: when it sat idle in the pool for more than `IDLE_PING_S`, or
shortly after a connection error. A connection in steady use is handed out without a `SELECT 1` round trip
(SQLAlchemy's `pool_pre_ping` pings on every checkout: 1 of ~6 round trips of a send). A restart faster than
`IDLE_PING_S` can still meet one dead connection: that statement fails as "database unavailable" (the API
answers a retryable 503, the worker retries the activity) and SQLAlchemy then recycles the whole pool.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

IDLE_PING_S = 2.0  # ping a connection that sat in the pool longer than this
SUSPECT_PING_S = 30.0  # after a lost connection, ping every checkout for this long

_IDLE_SINCE = "engram_idle_since"


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (as users paste them) and use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # LIFO: the most recently used (known good, warm) connection first; the rest age and get pinged.
    engine = create_async_engine(normalize_url(url), pool_size=pool_size, max_overflow=20, pool_use_lifo=True)
    _ping_when_stale(engine.sync_engine)
    _track_use(engine.sync_engine)
    return engine


@dataclass
class _PoolUse:
    last_checkin: float


_USE: weakref.WeakKeyDictionary[Engine, _PoolUse] = weakref.WeakKeyDictionary()


def _track_use(engine: Engine) -> None:
    _USE[engine] = use = _PoolUse(time.monotonic())

    @event.listens_for(engine, "checkin")
    def _used(_dbapi: Any, _record: Any) -> None:
        use.last_checkin = time.monotonic()


async def release_if_quiet(engine: AsyncEngine, quiet_s: float, now: float | None = None) -> bool:
    """Close every pooled connection once none has been used for `quiet_s`; True if it did.

    Each connection is a Postgres backend of ~4-8 MB. A burst grows a pool to `pool_size` and QueuePool keeps
    those for good, so an idle server would hold a dozen backends per process for nothing. A pool in use
    (anything checked out, or a checkin within `quiet_s`) is left alone: reconnecting costs a few ms, which
    only the first statement after a quiet minute pays. The engine stays usable; it opens connections anew.
    """
    pool = engine.sync_engine.pool
    if not getattr(pool, "checkedin", lambda: 0)() or getattr(pool, "checkedout", lambda: 0)():
        return False
    if quiet_for(engine, now) < quiet_s:
        return False
    await engine.dispose()
    return True


def quiet_for(engine: AsyncEngine, now: float | None = None) -> float:
    """Seconds since the engine's pool last took a connection back; 0 while one is checked out (or for an
    engine not made by `create_engine`). Every activity touches the store, so this is how long the process
    has had nothing to do."""
    use, pool = _USE.get(engine.sync_engine), engine.sync_engine.pool
    if use is None or getattr(pool, "checkedout", lambda: 0)():
        return 0.0
    return max(0.0, (time.monotonic() if now is None else now) - use.last_checkin)


def _ping_when_stale(engine: Engine) -> None:
    """Pessimistic disconnect handling limited to connections that may be stale (see the module docstring)."""
    suspect_until = [0.0]

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _maybe_ping(dbapi: Any, record: Any, _proxy: Any) -> None:
        now = time.monotonic()
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and now - idle_since <= IDLE_PING_S and now >= suspect_until[0]:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as exc:
            suspect_until[0] = time.monotonic() + SUSPECT_PING_S
            # The pool discards this connection (and every older one) and retries with a new one.
            raise DisconnectionError(f"pooled connection is dead: {exc}", invalidate_pool=True) from exc
        record.info[_IDLE_SINCE] = now

    @event.listens_for(engine, "handle_error")
    def _lost(context: Any) -> None:
        if context.is_disconnect:
            suspect_until[0] = time.monotonic() + SUSPECT_PING_S


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def autocommit_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose statements each commit on their own (no BEGIN / COMMIT / ROLLBACK round trips).

    For one-statement work on hot paths: a single read, or a single INSERT whose guard is in its WHERE clause.
    Anything that needs two statements to agree still belongs in a `session_factory` transaction.
    """
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
