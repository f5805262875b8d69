"""The FastAPI app: `create_app(settings)`; `uvicorn --factory api.app:create_app` reads settings from env."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api.console import mount_console
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.routes import router as v1_router
from engram.config import Settings
from engram.ids import DEFAULT_ORG_ID
from engram.runtime.housekeeping import keep_lean
from engram.store.db import autocommit_factory, create_engine, session_factory
from engram.store.organizations import ensure_organization

VERSION = "0.1.0"


def lazy_temporal_client(settings: Settings) -> Callable[[], Awaitable[Client]]:
    """Connect on first use, so the API can start (and serve reads) while Temporal is still coming up."""
    lock = asyncio.Lock()
    client: Client | None = None

    async def get() -> Client:
        nonlocal client
        async with lock:
            if client is None:
                from temporalio.contrib.pydantic import pydantic_data_converter

                client = await Client.connect(
                    settings.temporal_target, namespace=settings.temporal_namespace,
                    data_converter=pydantic_data_converter,
                )  # fmt: skip
        return client

    return get


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url or "")
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.autocommit_sessions = autocommit_factory(engine)
        app.state.temporal = lazy_temporal_client(settings)
        async with app.state.sessions.begin() as session:
            await ensure_organization(session, DEFAULT_ORG_ID)
        housekeeping = asyncio.create_task(keep_lean(engine))  # a quiet API holds no Postgres backends
        yield
        housekeeping.cancel()
        hub = getattr(app.state, "run_event_hub", None)
        if hub is not None:
            await hub.close()
        await engine.dispose()

    app = FastAPI(title="Engram", version=VERSION, lifespan=lifespan,
                  description="Letta-compatible API for durable, stateful agents on Temporal.")  # fmt: skip
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, settings=settings)
    app.include_router(v1_router)
    mount_console(app)  # the web console at /console (after /v1, whose routes it never shadows)
    return app
