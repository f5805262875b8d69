"""Tool wire models. Letta serialises `Tool.metadata` under the key `metadata_` (a wire quirk we keep)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import INT32_MAX, LettaRequest, Tag
from engram.errors import InvalidInput
from engram.sandbox.limits import MAX_TIMEOUT_S
from engram.store.models import Tool
from engram.store.models.tool import DEFAULT_RETURN_CHAR_LIMIT
from engram.tools.source_schema import MAX_TOOL_NAME_LENGTH, function_schema


class ToolOut(BaseModel):
    id: str
    name: str | None = None
    description: str | None = None
    tool_type: str | None = None
    source_type: str | None = None
    source_code: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    return_char_limit: int | None = None
    pip_requirements: list[Any] | None = None
    npm_requirements: list[Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None
    metadata_: dict[str, Any] | None = None
    project_id: str | None = None
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_domain(cls, tool: Tool) -> ToolOut:
        return cls(
            id=tool.id, name=tool.name, description=tool.description, tool_type=tool.tool_type,
            source_type=tool.source_type, source_code=tool.source_code, json_schema=tool.json_schema,
            args_json_schema=tool.args_json_schema, tags=list(tool.tags or []),
            return_char_limit=tool.return_char_limit, pip_requirements=tool.pip_requirements,
            npm_requirements=tool.npm_requirements, default_requires_approval=tool.default_requires_approval,
            enable_parallel_execution=tool.enable_parallel_execution, metadata_=tool.metadata_,
            created_at=tool.created_at, updated_at=tool.updated_at,
        )  # fmt: skip


def tool_fields(
    source_code: str | None, json_schema: dict[str, Any] | None, description: str | None
) -> dict[str, Any]:
    """name / description / json_schema for a custom tool: from the given schema, else derived from source."""
    if json_schema:
        name = json_schema.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("json_schema must have a non-empty 'name'")
        if len(name) > MAX_TOOL_NAME_LENGTH:
            raise InvalidInput(f"tool name {name!r} is longer than {MAX_TOOL_NAME_LENGTH} characters")
        schema = dict(json_schema)
        if source_code:
            function_schema(source_code)  # the source must still parse
    elif source_code:
        schema = function_schema(source_code)
    else:
        raise InvalidInput("a tool needs source_code (or a json_schema)")
    if description:
        schema["description"] = description
    return {"name": schema["name"], "description": schema.get("description"), "json_schema": schema}


class ToolCreate(LettaRequest):
    source_code: str
    description: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    source_type: str = Field(default="python", max_length=32)
    tags: list[Tag] | None = None
    return_char_limit: int = Field(default=DEFAULT_RETURN_CHAR_LIMIT, ge=1, le=INT32_MAX)
    pip_requirements: list[dict[str, Any]] | None = None
    npm_requirements: list[dict[str, Any]] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None
    metadata_: dict[str, Any] | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S, description="Engram: wall-clock limit per call")

    def to_fields(self) -> dict[str, Any]:
        if self.source_type != "python":
            raise InvalidInput(f"only python tools are supported, got source_type {self.source_type!r}")
        return {
            **tool_fields(self.source_code, self.json_schema, self.description),
            "tool_type": "custom", "source_type": self.source_type, "source_code": self.source_code,
            "args_json_schema": self.args_json_schema, "tags": self.tags or [],
            "return_char_limit": self.return_char_limit, "pip_requirements": self.pip_requirements,
            "npm_requirements": self.npm_requirements, "default_requires_approval": self.default_requires_approval,
            "enable_parallel_execution": self.enable_parallel_execution, "metadata_": self.metadata_,
            "timeout_s": self.timeout_s,
        }  # fmt: skip


class ToolUpdate(LettaRequest):
    source_code: str | None = None
    description: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    source_type: str | None = None
    tags: list[Tag] | None = None
    return_char_limit: int | None = Field(default=None, ge=1, le=INT32_MAX)
    pip_requirements: list[dict[str, Any]] | None = None
    npm_requirements: list[dict[str, Any]] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None
    metadata_: dict[str, Any] | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S, description="Engram: wall-clock limit per call")

    def to_changes(self, tool: Tool) -> dict[str, Any]:
        sent = {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
        if "source_code" in sent or "json_schema" in sent:
            if tool.tool_type != "custom":
                raise InvalidInput(f"built-in tool {tool.name!r} cannot be given new source or schema")
            derived = tool_fields(sent.get("source_code") or tool.source_code, sent.get("json_schema"),
                                  sent.get("description"))  # fmt: skip
            sent.update(derived)
        elif "description" in sent and tool.json_schema:
            sent["json_schema"] = {**tool.json_schema, "description": sent["description"]}
        return sent
