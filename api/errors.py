"""Domain errors -> HTTP statuses, in one table; a client mistake is never a 500."""

from __future__ import annotations

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from temporalio.service import RPCError, RPCStatusCode

from engram.errors import Conflict, EngramError, InvalidInput, NotFound, PayloadTooLarge

UNAVAILABLE_RPC_STATUSES = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
STATUS_BY_ERROR: tuple[tuple[type[EngramError], int], ...] = (
    (NotFound, 404),
    (InvalidInput, 422),
    (Conflict, 409),
    (PayloadTooLarge, 413),
)


def status_for(exc: EngramError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return status
    return 400


async def _engram_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EngramError)
    status = status_for(exc)
    # letta-client retries 409 unless told not to; a busy/conflict answer will not change on retry.
    headers = {"x-should-retry": "false"} if status == 409 else None
    body = {"detail": str(exc), **getattr(exc, "extra", {})}  # e.g. code PENDING_APPROVAL + pending_request_id
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _database_rejected(_: Request, exc: Exception) -> JSONResponse:
    """Last line of defence: a value the schema let through but the database refuses is still the client's."""
    reason = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
    if isinstance(exc, IntegrityError):
        return JSONResponse({"detail": f"conflict: {reason}"}, status_code=409, headers={"x-should-retry": "false"})
    return JSONResponse({"detail": f"invalid value: {reason}"}, status_code=422)


async def _service_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL or Temporal is briefly unreachable (restarting): a retryable 503, never a 500. The SDK
    retries 503s; a retried send with the same message otids attaches to the run its first attempt made."""
    from engram.store.outage import is_database_unavailable

    if isinstance(exc, RPCError) and exc.status not in UNAVAILABLE_RPC_STATUSES:
        return JSONResponse({"detail": f"workflow service error: {exc.message}"}, status_code=500)
    if isinstance(exc, DBAPIError) and not is_database_unavailable(exc):
        return JSONResponse({"detail": "database error"}, status_code=500)
    which = "the workflow service (Temporal)" if isinstance(exc, RPCError) else "the database"
    return JSONResponse({"detail": f"{which} is unavailable right now; retry shortly"}, status_code=503,
                        headers={"retry-after": "1"})  # fmt: skip


def _document_error_detail(app: FastAPI) -> None:
    """Our 422s carry either FastAPI's list of field errors or one sentence (`{"detail": "agent_id ... is
    not a valid id"}`); say so in the OpenAPI schema so generated clients and validators accept both."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if error is not None:
                error["properties"]["detail"] = {
                    "title": "Detail",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}],
                }  # fmt: skip
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_error_detail(app)
    app.add_exception_handler(EngramError, _engram_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _database_rejected)
    app.add_exception_handler(IntegrityError, _database_rejected)
    for unavailable in (DBAPIError, psycopg.OperationalError, psycopg.InterfaceError, RPCError):
        app.add_exception_handler(unavailable, _service_unavailable)
