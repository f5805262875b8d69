"""Request-scoped dependencies: settings, DB session (one transaction per request), actor, Temporal client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from engram.config import Settings
from engram.errors import InvalidInput
from engram.ids import DEFAULT_ORG_ID, DEFAULT_USER_ID, is_valid_id
from engram.store import agents as agent_store
from engram.store import blocks as block_store
from engram.store import tools as tool_store
from engram.store.models import Agent, Block, Tool


@dataclass(frozen=True)
class Actor:
    """Who is calling: the organization every query is scoped to."""

    org_id: str
    user_id: str = DEFAULT_USER_ID
    is_admin: bool = False


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` dependency in a
# worker thread, a thread hop per dependency per request.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessions


def autocommit_sessions(app: Any) -> async_sessionmaker[AsyncSession]:
    """The app's autocommit session factory (engram.store.db.autocommit_factory), built on first use from
    the engine behind `app.state.sessions` (apps assembled without the lifespan, as some tests do, work too)."""
    factory = getattr(app.state, "autocommit_sessions", None)
    if factory is None:
        from engram.store.db import autocommit_factory

        factory = autocommit_factory(app.state.sessions.kw["bind"])
        app.state.autocommit_sessions = factory
    return factory


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions.begin() as session:
        yield session


async def get_temporal(request: Request) -> Client:
    return await request.app.state.temporal()


async def get_actor(request: Request) -> Actor:
    """The caller resolved from its API key by `api.auth.require_api_key`; open mode = the default org."""
    return getattr(request.state, "actor", None) or Actor(org_id=DEFAULT_ORG_ID)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
ActorDep = Annotated[Actor, Depends(get_actor)]


# --- fetch-or-404 dependencies: a malformed id is a 422 with a message, an unknown one a 404 ---


def require_id(value: str, prefix: str, param: str) -> str:
    """Reject ids that are not `<prefix>-<uuid4>` before touching the database (Letta answers 422 too)."""
    if not is_valid_id(value, prefix):
        raise InvalidInput(f"{param} {value!r} is not a valid id: expected '{prefix}-' followed by a UUID4")
    return value


async def get_agent_row(agent_id: str, session: SessionDep, actor: ActorDep) -> Agent:
    return await agent_store.get_agent(session, actor.org_id, require_id(agent_id, "agent", "agent_id"))


async def get_block_row(block_id: str, session: SessionDep, actor: ActorDep) -> Block:
    return await block_store.get_block(session, actor.org_id, require_id(block_id, "block", "block_id"))


async def get_tool_row(tool_id: str, session: SessionDep, actor: ActorDep) -> Tool:
    return await tool_store.get_tool(session, actor.org_id, require_id(tool_id, "tool", "tool_id"))


AgentDep = Annotated[Agent, Depends(get_agent_row)]
BlockDep = Annotated[Block, Depends(get_block_row)]
ToolDep = Annotated[Tool, Depends(get_tool_row)]
