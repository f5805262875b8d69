"""An agent's call of an external_mcp tool, as the tools activity runs it: heartbeats, timeouts, error returns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engram.mcp.client import McpServerConfig, McpUnavailable, call_tool
from engram.sandbox.limits import MAX_TIMEOUT_S
from engram.tools.executor import ToolResult

HEARTBEAT_EVERY_S = 5.0


async def call_mcp_tool(call: Any, settings: Any, on_tick: Callable[[], None] | None = None) -> ToolResult:
    """`call` is an engram.tools.external.ExternalCall whose `mcp_server` is the tool's server row."""
    server = call.mcp_server
    if server is None:
        return ToolResult(
            f"Error: the MCP server of tool '{call.tool.name}' is not registered any more", True
        )
    connect_s = float(getattr(settings, "mcp_connect_timeout_s", 15.0))
    call_s = min(float(call.tool.timeout_s or getattr(settings, "mcp_call_timeout_s", 120.0)), MAX_TIMEOUT_S)
    task = asyncio.ensure_future(call_tool(McpServerConfig.of(server), call.tool.name, call.run.args,
                                           connect_timeout_s=connect_s, call_timeout_s=call_s,
                                           idempotency_key=call.run.tool_call_id))  # fmt: skip
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if on_tick is not None and not task.done():
                on_tick()
        result = task.result()
    except McpUnavailable as exc:
        return ToolResult(f"Error: MCP server '{server.server_name}' failed: {exc}", True)
    finally:
        if not task.done():
            task.cancel()
    return ToolResult(result.text, result.is_error)
