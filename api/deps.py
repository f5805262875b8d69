"""Request-scoped dependencies: settings, DB session (one transaction per request), actor, Temporal client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from engram.config import Settings
from engram.ids import DEFAULT_ORG_ID, DEFAULT_USER_ID


@dataclass(frozen=True)
class Actor:
    """Who is calling: the organization every query is scoped to."""

    org_id: str
    user_id: str = DEFAULT_USER_ID


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessions


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions.begin() as session:
        yield session


async def get_temporal(request: Request) -> Client:
    return await request.app.state.temporal()


async def get_actor(request: Request) -> Actor:
    # Single-tenant default; API-key authentication (issue "Reliability and security") plugs in here.
    return Actor(org_id=DEFAULT_ORG_ID)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
ActorDep = Annotated[Actor, Depends(get_actor)]
