"""MCP servers through letta-client: register (stdio, streamable HTTP), list tools, attach, call via an agent.

The servers are real processes built with the `mcp` SDK (tests/mcp/demo_server.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError

from engram.config import Settings

pytestmark = pytest.mark.usefixtures("worker_running")

DEMO = str(Path(__file__).parents[1] / "mcp" / "demo_server.py")


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """A shorter connect timeout than the default, still above a test server's start-up on a busy machine."""
    return settings.model_copy(update={"mcp_connect_timeout_s": 12.0})


def _stdio(prefix: str, *extra: str) -> dict[str, Any]:
    return {
        "mcp_server_type": "stdio",
        "command": sys.executable,
        "args": [DEMO, *extra],
        "env": {"TOOL_PREFIX": prefix},
    }


def _tools(letta: Letta, server_id: str) -> dict[str, Any]:
    return {t.name: t for t in letta.mcp_servers.tools.list(server_id)}


def _ask(letta: Letta, agent_id: str, text: str) -> tuple[Any, str]:
    response = letta.agents.messages.create(agent_id, input=text)
    [ret] = [m for m in response.messages if m.message_type == "tool_return_message"]
    reply = " ".join(m.content for m in response.messages if m.message_type == "assistant_message")
    assert response.stop_reason.stop_reason == "end_turn"
    return ret, reply


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TOOL_PREFIX": "web_"}
    proc = subprocess.Popen([sys.executable, DEMO, "http", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def test_stdio_server_tools_are_listed_attached_and_called(
    letta: Letta, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGRAM_FAKE_SECRET", "server-only")
    server = letta.mcp_servers.create(server_name="calc", config=_stdio("calc_"))
    assert server.mcp_server_type == "stdio" and server.id.startswith("mcp_server-")
    assert [s.server_name for s in letta.mcp_servers.list()] == ["calc"]
    tools = _tools(letta, server.id)
    assert {"calc_add", "calc_secret_probe", "calc_hang"} <= set(tools)
    add = tools["calc_add"]
    assert add.tool_type == "external_mcp" and add.tags == ["mcp:calc"]
    assert add.json_schema["parameters"]["required"] == ["a", "b"]
    assert letta.mcp_servers.tools.retrieve(add.id, mcp_server_id=server.id).name == "calc_add"
    run = letta.mcp_servers.tools.run(add.id, mcp_server_id=server.id, args={"a": 20, "b": 22})
    assert run.status == "success" and run.func_return == "42"

    agent = letta.agents.create(name="mcp-user", model="engram/offline", include_base_tools=False,
                                tool_ids=[add.id, tools["calc_secret_probe"].id, tools["calc_call_key"].id])  # fmt: skip
    ret, reply = _ask(letta, agent.id, 'call calc_add {"a": 2, "b": 3}')
    assert ret.status == "success" and ret.tool_return == "5" and "calc_add returned: 5" in reply
    ret, _ = _ask(letta, agent.id, 'call calc_secret_probe {"name": "ENGRAM_FAKE_SECRET"}')
    assert ret.tool_return == "<unset>"  # a stdio server gets its registered env, not the worker's
    ret, _ = _ask(letta, agent.id, "call calc_call_key")
    assert ret.tool_return == ret.tool_call_id  # the idempotency key reaches the server in _meta
    ret, _ = _ask(letta, agent.id, 'call calc_add {"a": "two"}')
    assert ret.status == "error" and "validation error" in ret.tool_return


def test_streamable_http_server(letta: Letta, http_server: str) -> None:
    server = letta.mcp_servers.create(
        server_name="web", config={"mcp_server_type": "streamable_http", "server_url": http_server,
                                   "custom_headers": {"X-Test": "1"}},
    )  # fmt: skip
    assert server.mcp_server_type == "streamable_http" and server.server_url == http_server
    tools = _tools(letta, server.id)
    agent = letta.agents.create(name="web-user", model="engram/offline", include_base_tools=False)
    letta.agents.tools.attach(tools["web_add"].id, agent_id=agent.id)
    ret, reply = _ask(letta, agent.id, 'call web_add {"a": 40, "b": 2}')
    assert ret.status == "success" and "web_add returned: 42" in reply


def test_hung_or_dead_server_is_an_error_return_within_the_timeout(letta: Letta) -> None:
    server = letta.mcp_servers.create(server_name="flaky", config=_stdio("flaky_"))
    tools = _tools(letta, server.id)
    for tool in tools.values():
        letta.tools.update(tool.id, extra_body={"timeout_s": 2})
    agent = letta.agents.create(name="patient", model="engram/offline", include_base_tools=False,
                                tool_ids=[t.id for t in tools.values()])  # fmt: skip
    ret, reply = _ask(letta, agent.id, "call flaky_hang")  # the server answers nothing for this call
    assert ret.status == "error" and "timed out" in ret.tool_return and "flaky_hang call failed" in reply
    # The server now starts but never answers anything (not even the handshake).
    updated = letta.mcp_servers.update(server.id, config={**_stdio("flaky_", "mute")})
    assert updated.args == [DEMO, "mute"]
    ret, _ = _ask(letta, agent.id, 'call flaky_add {"a": 1, "b": 1}')
    assert ret.status == "error" and "did not answer in time" in ret.tool_return
    assert set(_tools(letta, server.id)) == set(tools)


def test_a_taken_tool_name_is_skipped_not_overwritten(letta: Letta) -> None:
    mine = letta.tools.upsert(
        source_code='def dup_add(a: int, b: int) -> int:\n    """Mine."""\n    return a - b\n'
    )
    server = letta.mcp_servers.create(server_name="dup", config=_stdio("dup_"))
    assert set(_tools(letta, server.id)) == {"dup_secret_probe", "dup_call_key", "dup_hang"}
    summary = letta.mcp_servers.refresh(server.id)
    assert any(s.startswith("dup_add") for s in summary["skipped"]) and summary["updated"]
    assert letta.tools.retrieve(mine.id).tool_type == "custom"


def test_bad_config_and_unknown_ids(letta: Letta) -> None:
    with pytest.raises(UnprocessableEntityError):
        letta.mcp_servers.create(
            server_name="nothing", config={"mcp_server_type": "stdio", "command": "", "args": []}
        )
    with pytest.raises(UnprocessableEntityError):
        letta.mcp_servers.create(
            server_name="bad-url", config={"mcp_server_type": "streamable_http", "server_url": "ftp://x"}
        )
    down = letta.mcp_servers.create(
        server_name="down", config={"mcp_server_type": "stdio", "command": "/nonexistent/mcp", "args": []}
    )
    assert letta.mcp_servers.tools.list(down.id) == []  # registered anyway (Letta), tools come with a refresh
    assert "error" in letta.mcp_servers.refresh(down.id)
    letta.mcp_servers.delete(down.id)
    with pytest.raises(NotFoundError):
        letta.mcp_servers.retrieve(down.id)
