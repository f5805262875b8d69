"""Is this error "PostgreSQL is unreachable or restarting"? Shared by the worker (re-run the activity once
the database is back) and the API (answer a retryable 503 and keep streams open) so both agree."""

from __future__ import annotations


def is_database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc` (or anything in its cause/context chain) says the server is down or restarting."""
    import psycopg
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, psycopg.OperationalError,
                            psycopg.InterfaceError, ConnectionError)):  # fmt: skip
            return True
        exc = exc.__cause__ or exc.__context__
    return False
