"""Talk to one MCP server: stdio command, streamable HTTP or SSE. Every operation is time-boxed.

A server that never answers, dies, or cannot be reached raises `McpUnavailable` within the timeouts;
a tool that reports an error comes back as `McpCallResult(is_error=True)`. Stdio servers get only the
SDK's minimal environment (PATH, HOME, ...) plus the `env` they were registered with: never the
worker's ENGRAM_* variables. Their stderr goes to a temporary file whose tail explains a failed start.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from engram.errors import EngramError
from engram.sandbox.runner import protect_worker_environ

STDERR_TAIL_CHARS = 1500
IDEMPOTENCY_META_KEY = "dev.engram/tool_call_id"  # same value as LETTA_TOOL_CALL_ID for sandboxed tools


class McpUnavailable(EngramError):
    """The server could not be started or reached, or did not answer in time."""


@dataclass(frozen=True)
class McpServerConfig:
    server_type: str  # stdio | sse | streamable_http
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    server_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Any) -> McpServerConfig:
        headers = {str(k): str(v) for k, v in (row.custom_headers or {}).items()}
        if row.auth_token:
            name = row.auth_header or "Authorization"
            token = row.auth_token
            headers[name] = (
                f"Bearer {token}" if name.lower() == "authorization" and " " not in token else token
            )
        return cls(row.server_type, row.command, tuple(str(a) for a in row.args or ()),
                   {str(k): str(v) for k, v in (row.env or {}).items()}, row.server_url, headers)  # fmt: skip


@dataclass
class McpToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class McpCallResult:
    text: str
    is_error: bool


async def list_tools(config: McpServerConfig, timeout_s: float) -> list[McpToolInfo]:
    """Every tool the server offers (all pages)."""
    async with _session(config, timeout_s, timeout_s) as client:  # connecting and listing share the budget
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor)
            tools += [
                McpToolInfo(t.name, t.description or "", dict(t.input_schema or {})) for t in page.tools
            ]
            cursor = page.next_cursor
            if not cursor:
                break
        return tools


async def call_tool(config: McpServerConfig, name: str, args: dict[str, Any], *, connect_timeout_s: float,
                    call_timeout_s: float, idempotency_key: str | None = None) -> McpCallResult:  # fmt: skip
    """`idempotency_key` (the agent's tool_call_id) travels in the request's `_meta` as IDEMPOTENCY_META_KEY."""
    meta: Any = {IDEMPOTENCY_META_KEY: idempotency_key} if idempotency_key else None
    async with _session(config, connect_timeout_s, connect_timeout_s + call_timeout_s) as client:
        result = await client.call_tool(name, args, read_timeout_seconds=call_timeout_s, meta=meta)
    return McpCallResult(_result_text(result), bool(result.is_error))


@contextlib.asynccontextmanager
async def _session(
    config: McpServerConfig, connect_timeout_s: float, total_s: float
) -> AsyncIterator[Client]:
    """A connected client; connecting and the whole use must finish within `total_s`, and each request of the
    handshake within `connect_timeout_s`."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            with anyio.fail_after(
                total_s
            ):  # a backstop over the per-request limits (the handshake may take two)
                async with contextlib.AsyncExitStack() as stack:
                    transport = await _transport(stack, config, connect_timeout_s, total_s, errlog)
                    client = Client(transport, read_timeout_seconds=connect_timeout_s, cache=None)  # type: ignore[arg-type]
                    yield await stack.enter_async_context(client)
        except McpUnavailable:
            raise
        except TimeoutError as exc:
            raise McpUnavailable(f"MCP server did not answer in time{_tail(errlog)}") from exc
        except Exception as exc:  # noqa: BLE001 - connection, protocol and server errors all mean "unavailable"
            raise McpUnavailable(f"MCP server error: {_describe(exc)}{_tail(errlog)}") from exc


async def _transport(stack: contextlib.AsyncExitStack, config: McpServerConfig, connect_timeout_s: float,
                     total_s: float, errlog: Any) -> Any:  # fmt: skip
    if config.server_type == "stdio":
        if not config.command:
            raise McpUnavailable("stdio MCP server has no command")
        protect_worker_environ()
        params = StdioServerParameters(command=config.command, args=list(config.args), env=config.env or None)
        return stdio_client(params, errlog=errlog)
    if not config.server_url:
        raise McpUnavailable("MCP server has no server_url")
    if config.server_type == "sse":
        return sse_client(
            config.server_url, headers=config.headers, timeout=connect_timeout_s, sse_read_timeout=total_s
        )
    timeout = httpx2.Timeout(connect_timeout_s, read=total_s)
    http = await stack.enter_async_context(create_mcp_http_client(headers=config.headers, timeout=timeout))
    return streamable_http_client(config.server_url, http_client=http)


def _result_text(result: Any) -> str:
    parts = []
    for item in result.content or []:
        text = getattr(item, "text", None)
        parts.append(
            text if isinstance(text, str) else json.dumps(item.model_dump(mode="json", exclude_none=True))
        )
    if not parts and result.structured_content is not None:
        return json.dumps(result.structured_content)
    return "\n".join(parts)


def _describe(exc: BaseException) -> str:
    """The innermost meaningful message (anyio wraps failures in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:500]


def _tail(errlog: Any) -> str:
    with contextlib.suppress(OSError, ValueError):
        errlog.seek(0)
        text = errlog.read()[-STDERR_TAIL_CHARS:].strip()
        if text:
            return f"; server stderr: {text}"
    return ""
