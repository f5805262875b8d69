"""`engram chat`: a terminal chat with one agent through the REST API (plain httpx, no SDK).

Prints the assistant's reply plus what the agent did on the way: tool calls, memory edits (calls to
core_memory_* / memory_* / archival_memory_insert) and tool results, so a user sees memory change.
Reads one message per line from stdin when it is not a terminal, so scripts and tests can pipe in.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import httpx

from engram.config import Settings

DEFAULT_AGENT = "engram-quickstart"
DEFAULT_PERSONA = "I am a helpful assistant."
MEMORY_EDIT_PREFIXES = ("core_memory_", "memory_", "archival_memory_insert")
QUIT = {"/quit", "/exit", "/q"}


class ChatError(Exception):
    """The API could not be reached or refused a request; the message says what to do."""


class ChatClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 300.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ChatError(
                f"cannot reach the Engram API at {self.base_url} ({exc}); is `engram up` running?"
            ) from exc
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
            raise ChatError(f"{method} {path} failed: HTTP {resp.status_code}: {detail}")
        return resp.json()

    def ensure_agent(self, name: str, model: str) -> dict[str, Any]:
        """The agent called `name`, created (offline model, empty human block) on first use."""
        found = self._request("GET", "/v1/agents/", params={"name": name})
        for agent in found if isinstance(found, list) else []:
            if agent.get("name") == name:
                return dict(agent)
        body = {
            "name": name, "model": model, "agent_type": "memgpt_v2_agent",
            "memory_blocks": [{"label": "human", "value": ""}, {"label": "persona", "value": DEFAULT_PERSONA}],
        }  # fmt: skip
        return dict(self._request("POST", "/v1/agents/", json=body))

    def send(self, agent_id: str, text: str) -> dict[str, Any]:
        body = {"messages": [{"role": "user", "content": text}]}
        return dict(self._request("POST", f"/v1/agents/{agent_id}/messages", json=body))


def _text(content: Any) -> str:
    """Letta content is a string or a list of parts ({"type": "text", "text": ...})."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def _calls(msg: dict[str, Any]) -> list[dict[str, Any]]:
    calls = msg.get("tool_calls") or ([msg["tool_call"]] if msg.get("tool_call") else [])
    return [c for c in calls if isinstance(c, dict)]


def _args(raw: Any) -> str:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return str(raw)
    if isinstance(parsed, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in parsed.items() if k != "request_heartbeat")
    return _short(parsed)


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_memory_edit(tool_name: str) -> bool:
    return tool_name.startswith(MEMORY_EDIT_PREFIXES) and "search" not in tool_name


def format_response(response: dict[str, Any]) -> list[str]:
    """Readable lines for one turn: reasoning, tool calls, memory edits, results, the reply."""
    lines: list[str] = []
    for msg in response.get("messages") or []:
        kind = msg.get("message_type")
        if kind == "assistant_message":
            lines.append(f"assistant> {_text(msg.get('content'))}")
        elif kind == "reasoning_message":
            lines.append(f"  (thinking) {_text(msg.get('reasoning'))}")
        elif kind == "tool_call_message":
            for call in _calls(msg):
                name = str(call.get("name", "?"))
                label = "memory edit" if is_memory_edit(name) else "tool call"
                lines.append(f"  [{label}] {name}({_args(call.get('arguments'))})")
        elif kind == "tool_return_message":
            status = msg.get("status", "")
            lines.append(f"  [tool result: {status}] {_short(_text(msg.get('tool_return')), 200)}")
        elif kind == "approval_request_message":
            lines.append("  [approval requested] " + ", ".join(str(c.get("name")) for c in _calls(msg)))
    stop = (response.get("stop_reason") or {}).get("stop_reason")
    if stop and stop not in ("end_turn", "no_tool_call"):
        lines.append(f"  (stopped: {stop})")
    return lines


def _lines(stdin: TextIO, interactive: bool, out: TextIO) -> Iterable[str]:
    while True:
        if interactive:
            try:
                line = input("you> ")
            except EOFError:
                out.write("\n")
                return
        else:
            line = stdin.readline()
            if not line:
                return
        yield line.strip()


def run_chat(
    base_url: str,
    agent_name: str = DEFAULT_AGENT,
    *,
    settings: Settings | None = None,
    model: str | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    before_prompt: Callable[[], None] | None = None,
) -> int:
    """Chat until EOF or /quit; returns the exit code (1 if the API is unreachable or errors)."""
    settings = settings or Settings()
    stdin, out = stdin or sys.stdin, out or sys.stdout
    interactive = stdin.isatty()
    key = settings.api_key.get_secret_value() if settings.api_key else None
    client = ChatClient(base_url, key)
    try:
        agent = client.ensure_agent(agent_name, model or settings.default_model)
        print(f"chatting with agent {agent.get('name')!r} ({agent.get('id')}) at {base_url}", file=out)
        if interactive:
            print("type a message; Ctrl-D or /quit to leave", file=out)
        for line in _lines(stdin, interactive, out):
            if before_prompt is not None:
                before_prompt()
            if not line:
                continue
            if line in QUIT:
                break
            for printed in format_response(client.send(str(agent["id"]), line)):
                print(printed, file=out)
            out.flush()
    except ChatError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    finally:
        client.close()
    return 0
