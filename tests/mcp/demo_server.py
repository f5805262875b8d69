"""An MCP server for the tests, built with the `mcp` SDK: stdio by default, `http <port>` for streamable HTTP.

Tool names carry the TOOL_PREFIX environment variable, so several registrations in one organization
(where tool names are unique) can run the same script. `mute` mode reads requests and never answers.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import Context, MCPServer

PREFIX = os.environ.get("TOOL_PREFIX", "")


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def secret_probe(name: str) -> str:
    """Report whether an environment variable is visible to this server."""
    return os.environ.get(name, "<unset>")


def call_key(ctx: Context) -> str:
    """The idempotency key the caller put in the request's _meta."""
    return str((ctx.request_context.meta or {}).get("dev.engram/tool_call_id", "<none>"))


def hang(seconds: float = 3600) -> str:
    """Sleep far longer than any caller waits."""
    time.sleep(seconds)
    return "woke up"


def build() -> MCPServer:
    app = MCPServer("engram-test", log_level="WARNING")
    for fn in (add, secret_probe, call_key, hang):
        app.add_tool(fn, name=PREFIX + fn.__name__)
    return app


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "mute":
        for _line in sys.stdin:
            pass
        time.sleep(3600)
    elif mode == "http":
        build().run("streamable-http", port=int(sys.argv[2]))
    else:
        build().run()
