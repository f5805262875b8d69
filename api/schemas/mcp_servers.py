"""Wire models of `/v1/mcp-servers` (letta-client 1.12.1: StdioMcpServer, SseMcpServer, StreamableHTTPMcpServer)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import LettaRequest
from engram.errors import InvalidInput
from engram.store.models import McpServer

ServerType = Literal["stdio", "sse", "streamable_http"]
_CONFIG_FIELDS = ("command", "args", "env", "server_url", "auth_header", "auth_token", "custom_headers")


class McpServerConfigIn(LettaRequest):
    """One shape for create and update: the SDK's three config types differ only in which fields they set."""

    mcp_server_type: ServerType | None = None
    command: str | None = Field(default=None, max_length=4096)
    args: list[str] | None = None
    env: dict[str, str] | None = None
    server_url: str | None = Field(default=None, max_length=4096)
    auth_header: str | None = Field(default=None, max_length=200)
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None

    def server_type(self, current: str | None = None) -> str:
        if self.mcp_server_type:
            return self.mcp_server_type
        if current:
            return current
        return "stdio" if self.command else "streamable_http"


class McpServerCreate(LettaRequest):
    server_name: str = Field(min_length=1, max_length=200)
    config: McpServerConfigIn

    def to_fields(self) -> dict[str, Any]:
        fields = {k: getattr(self.config, k) for k in _CONFIG_FIELDS}
        fields.update(server_name=self.server_name, server_type=self.config.server_type())
        return validated(fields)


class McpServerUpdate(LettaRequest):
    server_name: str | None = Field(default=None, min_length=1, max_length=200)
    config: McpServerConfigIn | None = None

    def to_changes(self, server: McpServer) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if self.config is not None:
            sent = self.config.model_dump(exclude_unset=True)
            changes.update({k: v for k, v in sent.items() if k in _CONFIG_FIELDS and v is not None})
            changes["server_type"] = self.config.server_type(server.server_type)
        if self.server_name:
            changes["server_name"] = self.server_name
        merged = {k: getattr(server, k) for k in (*_CONFIG_FIELDS, "server_type")} | changes
        validated(merged)
        return changes


def validated(fields: dict[str, Any]) -> dict[str, Any]:
    if fields["server_type"] == "stdio":
        if not fields.get("command"):
            raise InvalidInput("a stdio MCP server needs a command")
        fields["args"] = list(fields.get("args") or [])
    else:
        url = fields.get("server_url") or ""
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(
                f"an {fields['server_type']} MCP server needs an http(s) server_url, got {url!r}"
            )
    return fields


class McpServerOut(BaseModel):
    """Letta answers with the union member for the server's type; unset fields are simply absent."""

    id: str
    server_name: str
    mcp_server_type: ServerType
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    server_url: str | None = None
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None

    @classmethod
    def from_domain(cls, server: McpServer) -> dict[str, Any]:
        out = cls(
            id=server.id, server_name=server.server_name, mcp_server_type=server.server_type,  # type: ignore[arg-type]
            command=server.command, args=list(server.args or []) if server.server_type == "stdio" else None,
            env=server.env, server_url=server.server_url, auth_header=server.auth_header,
            auth_token=server.auth_token, custom_headers=server.custom_headers,
        )  # fmt: skip
        return out.model_dump(exclude_none=True)


class McpToolRun(LettaRequest):
    args: dict[str, Any] = Field(default_factory=dict)


class ToolExecutionResult(BaseModel):
    status: Literal["success", "error"]
    func_return: Any = None
    stdout: list[str] | None = None
    stderr: list[str] | None = None
