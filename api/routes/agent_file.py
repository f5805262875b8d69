"""Agent File: `GET /v1/agents/{id}/export` (raw JSON body) and `POST /v1/agents/import` (multipart)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import Response

from api.deps import ActorDep, AgentDep, SessionDep, SettingsDep
from api.routes.agents import refresh_system_message
from api.schemas.agents import ImportResponse
from api.schemas.models import llm_config
from engram.agent_file import AgentFileError, ImportOptions, export_agent, import_agent_file, parse_agent_file
from engram.embed.registry import embedding_config
from engram.errors import InvalidInput, PayloadTooLarge

router = APIRouter(tags=["agents"])
MAX_AGENT_FILE_BYTES = 64 * 1024 * 1024


@router.get("/agents/{agent_id}/export", response_class=Response)
async def export_agent_file(
    agent: AgentDep, session: SessionDep, actor: ActorDep, scrub_messages: bool = False,
    use_legacy_format: bool = False,
) -> Response:  # fmt: skip
    """The SDK returns this body verbatim as a string (`cast_to=str`), so it is the document itself."""
    if use_legacy_format:
        raise AgentFileError("the legacy (v1) agent file format is not supported; export the v2 format")
    doc = await export_agent(session, actor.org_id, agent.id, include_messages=not scrub_messages)
    return Response(json.dumps(doc, default=str), media_type="application/json")


def _json_object(raw: str | None, field: str) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{field} must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object")
    return {str(k): str(v) for k, v in value.items()}


@router.post("/agents/import", response_model=ImportResponse)
async def import_agent(
    session: SessionDep, actor: ActorDep, settings: SettingsDep, file: Annotated[UploadFile, File()],
    override_name: Annotated[str | None, Form()] = None, name: Annotated[str | None, Form()] = None,
    append_copy_suffix: Annotated[bool, Form()] = False, override_existing_tools: Annotated[bool, Form()] = True,
    strip_messages: Annotated[bool, Form()] = False, model: Annotated[str | None, Form()] = None,
    override_model_handle: Annotated[str | None, Form()] = None, embedding: Annotated[str | None, Form()] = None,
    override_embedding_handle: Annotated[str | None, Form()] = None,
    env_vars_json: Annotated[str | None, Form()] = None, secrets: Annotated[str | None, Form()] = None,
    x_override_embedding_model: Annotated[str | None, Header()] = None,
) -> ImportResponse:  # fmt: skip
    raw = await file.read(MAX_AGENT_FILE_BYTES + 1)
    if len(raw) > MAX_AGENT_FILE_BYTES:
        raise PayloadTooLarge(f"agent file is larger than {MAX_AGENT_FILE_BYTES} bytes")
    options = ImportOptions(
        override_name=override_name or name, append_copy_suffix=append_copy_suffix,
        model=override_model_handle or model, embedding=override_embedding_handle or embedding or x_override_embedding_model,
        override_existing_tools=override_existing_tools, strip_messages=strip_messages,
        secrets={**_json_object(env_vars_json, "env_vars_json"), **_json_object(secrets, "secrets")},
    )  # fmt: skip
    agent_ids = await import_agent_file(
        session, actor.org_id, parse_agent_file(raw), options, llm_config_for=llm_config,
        embedding_config_for=embedding_config, default_embedding=settings.default_embedding,
    )  # fmt: skip
    for agent_id in agent_ids:
        await refresh_system_message(session, actor.org_id, agent_id)
    return ImportResponse(agent_ids=agent_ids)
