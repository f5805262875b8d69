"""Organizations and their API keys (multi-tenant mode); every route needs the admin key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from api.deps import Actor, ActorDep, SessionDep
from engram.store import api_keys


def require_admin(actor: ActorDep) -> Actor:
    if not actor.is_admin:
        raise HTTPException(status_code=403, detail="this endpoint needs the admin key (ENGRAM_ADMIN_KEY)")
    return actor


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class OrganizationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class OrganizationOut(BaseModel):
    id: str
    name: str


class KeyCreate(BaseModel):
    name: str = ""


class KeyOut(BaseModel):
    id: str
    organization_id: str
    name: str
    key_prefix: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    key: Annotated[str | None, Field(description="the key itself; returned only when it is created")] = None


def _key_out(record: api_keys.ApiKey, key: str | None = None) -> KeyOut:
    return KeyOut(id=record.id, organization_id=record.organization_id, name=record.name,
                  key_prefix=record.key_prefix, created_at=record.created_at, revoked_at=record.revoked_at,
                  key=key)  # fmt: skip


@router.post("/organizations", response_model=OrganizationOut)
async def create_organization(body: OrganizationCreate, session: SessionDep) -> OrganizationOut:
    org = await api_keys.create_organization(session, body.name)
    return OrganizationOut(id=org.id, name=org.name)


@router.get("/organizations", response_model=list[OrganizationOut])
async def list_organizations(session: SessionDep) -> list[OrganizationOut]:
    return [OrganizationOut(id=o.id, name=o.name) for o in await api_keys.list_organizations(session)]


@router.post("/organizations/{org_id}/keys", response_model=KeyOut)
async def create_key(org_id: str, body: KeyCreate, session: SessionDep) -> KeyOut:
    issued = await api_keys.issue_key(session, org_id, body.name)
    return _key_out(issued.record, issued.key)


@router.get("/organizations/{org_id}/keys", response_model=list[KeyOut])
async def list_keys(org_id: str, session: SessionDep) -> list[KeyOut]:
    return [_key_out(record) for record in await api_keys.list_keys(session, org_id)]


@router.delete("/keys/{key_id}", response_model=KeyOut)
async def revoke_key(key_id: str, session: SessionDep) -> KeyOut:
    return _key_out(await api_keys.revoke_key(session, key_id))
