"""Tools whose code lives outside the worker: custom Python tools (the sandbox) and MCP tools.

The tools activity calls `prepare_external_call` inside a short read transaction (it needs the agent,
its blocks and the MCP server row) and then `run_external_call` with no transaction open, because a
tool may run for minutes. Results come back as `ToolResult`; a return longer than the tool's
`return_char_limit` is cut for the model, with Letta's notice, and the full text rides along in
`ToolResult.full_text` for the tool-return row.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from engram.sandbox import SandboxLimits, SandboxOptions, ToolRun, run_python_tool
from engram.store import blocks as block_store
from engram.store.models import Agent, Tool
from engram.store.models.tool import DEFAULT_RETURN_CHAR_LIMIT
from engram.tools.executor import ToolResult

EXTERNAL_TOOL_TYPES = frozenset({"custom", "external_mcp"})
FULL_OUTPUT_MAX_CHARS = 5_000_000


@dataclass
class ExternalCall:
    """Everything a tool run needs, read from the database before the run (no session held during it)."""

    tool: Tool
    run: ToolRun
    message_id: str  # the tool-return row the full output will live in
    mcp_server: Any = None  # engram.store.models.McpServer for external_mcp tools


def wants_param(source: str | None, function: str, param: str) -> bool:
    """Does `function` in `source` take a parameter named `param` (Letta's injected agent_state / agent_id)?"""
    try:
        module = ast.parse(source or "")
    except SyntaxError:
        return False
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            args = node.args
            return param in {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    return False


async def agent_state_snapshot(session: AsyncSession, agent: Agent, tools: list[Tool]) -> dict[str, Any]:
    """The read-only `agent_state` a Letta tool may take: ids, config, memory blocks, tool names (no secrets)."""
    blocks = await block_store.list_agent_blocks(session, agent.organization_id, agent.id)
    return {
        "id": agent.id, "name": agent.name, "agent_type": agent.agent_type, "description": agent.description,
        "system": agent.system, "model": agent.model, "tags": list(agent.tags or []), "metadata": agent.metadata_,
        "timezone": agent.timezone, "tool_names": [t.name for t in tools],
        "blocks": [
            {"id": b.id, "label": b.label, "value": b.value, "limit": b.limit, "description": b.description,
             "read_only": b.read_only}
            for b in blocks
        ],
    }  # fmt: skip


async def prepare_external_call(
    session: AsyncSession, agent: Agent, tools: list[Tool], tool: Tool, args: dict[str, Any], *,
    tool_call_id: str, message_id: str, mcp_server: Any = None,
) -> ExternalCall:  # fmt: skip
    snapshot = None
    if tool.tool_type == "custom" and wants_param(tool.source_code, tool.name, "agent_state"):
        snapshot = await agent_state_snapshot(session, agent, tools)
    secrets = {str(k): str(v) for k, v in (agent.secrets or {}).items() if v is not None}
    run = ToolRun(source=tool.source_code or "", name=tool.name, args=args, secrets=secrets, agent_id=agent.id,
                  tool_id=tool.id, tool_call_id=tool_call_id, agent_state=snapshot)  # fmt: skip
    return ExternalCall(tool, run, message_id, mcp_server)


def sandbox_limits(settings: Any, tool: Tool) -> SandboxLimits:
    base = SandboxLimits(memory_mb=int(getattr(settings, "sandbox_memory_mb", 1024)))
    return base.with_timeout(getattr(settings, "tool_timeout_s", None)).with_timeout(tool.timeout_s)


def sandbox_options(settings: Any) -> SandboxOptions:
    if settings is None:
        return SandboxOptions()
    hide = [str(settings.data_dir.resolve())]
    socket_dir = _socket_dir(settings.database_url)
    if socket_dir:
        hide.append(socket_dir)
    scratch_root = str(settings.sandbox_dir) if settings.sandbox_dir else None
    return SandboxOptions(user=settings.sandbox_user, allow_network=settings.sandbox_network,
                          scratch_root=scratch_root, hide_paths=tuple(hide))  # fmt: skip


def _socket_dir(url: str | None) -> str | None:
    """The Unix-socket directory of a local Postgres URL (`?host=/path`), which tools must not reach."""
    if not url:
        return None
    hosts = parse_qs(urlsplit(url).query).get("host") or []
    return next((h for h in hosts if h.startswith("/")), None)


async def run_external_call(
    call: ExternalCall, settings: Any, on_tick: Callable[[], None] | None = None
) -> ToolResult:
    """Run the call (sandbox or MCP); never raises for anything the tool or server did."""
    if call.tool.tool_type == "external_mcp":
        from engram.mcp.calls import call_mcp_tool

        result = await call_mcp_tool(call, settings, on_tick=on_tick)
    else:
        done = await run_python_tool(call.run, sandbox_limits(settings, call.tool), sandbox_options(settings),
                                     on_tick=on_tick)  # fmt: skip
        result = ToolResult(done.output, done.is_error, stderr=done.stderr, stdout=done.stdout)
    return limit_return(result, call.tool.return_char_limit or DEFAULT_RETURN_CHAR_LIMIT, call.message_id)


def limit_return(result: ToolResult, limit: int, message_id: str) -> ToolResult:
    """Cut what the model sees to `limit` characters (Letta's notice), keeping the full text for the row."""
    text = result.text
    if len(text) <= limit:
        return result
    notice = (
        f"... [NOTE: function output was truncated since it exceeded the character limit ({len(text)} > {limit}). "
        f"The full output is stored with tool return message {message_id}.]"  # GET .../messages/{id}/tool-output
    )
    result.full_text = text[:FULL_OUTPUT_MAX_CHARS]
    result.text = text[:limit] + notice
    return result
