"""Token deltas -> `delta` run events, batched so a fast stream costs a few writes per second.

Each delta is a LettaMessage-shaped chunk with the final message's id and otid (reference A.7); a
send_message call streams as assistant_message text decoded from its partial JSON arguments.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engram.letta_messages import REASONING_SUB, TEXT_SUB, TOOL_CALL_SUB, otid_for
from engram.llm.base import StreamDelta
from engram.store import run_events

FLUSH_INTERVAL_S = 0.1
_ESCAPE_TAIL = re.compile(r"\\(u[0-9a-fA-F]{0,3})?$")


def partial_json_string(args: str, key: str) -> str:
    """The decoded prefix of string field `key` in possibly incomplete JSON text ("" if not started)."""
    match = re.search(rf'"{re.escape(key)}"\s*:\s*"', args)
    if match is None:
        return ""
    raw, i = [], match.end()
    while i < len(args):
        ch = args[i]
        if ch == "\\":
            if i + 1 >= len(args):
                break
            raw.append(args[i : i + 2])
            i += 2
            continue
        if ch == '"':
            break
        raw.append(ch)
        i += 1
    text = _ESCAPE_TAIL.sub("", "".join(raw))
    try:
        return json.loads(f'"{text}"')
    except ValueError:
        return ""


class DeltaWriter:
    """Collects deltas of one step attempt and appends them as `delta` events every FLUSH_INTERVAL_S."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], org_id: str, run_id: str, *, message_id: str,
        step_id: str, attempt: int, date: datetime, assistant_tool: str | None, assistant_kwarg: str,
        approval_tools: frozenset[str] = frozenset(),
    ) -> None:  # fmt: skip
        self.sessions, self.org_id, self.run_id = sessions, org_id, run_id
        self.message_id, self.step_id, self.attempt, self.date = message_id, step_id, attempt, date
        self.assistant_tool, self.assistant_kwarg = assistant_tool, assistant_kwarg
        self.approval_tools = approval_tools  # their calls stream as approval_request_message
        self.pending: list[tuple[str, str, dict]] = []
        self.streamed_otids: set[str] = set()
        self.count = 0
        self.last_flush = time.monotonic()
        self.tool_names: dict[int, str] = {}
        self.tool_args: dict[int, str] = {}
        self.said: dict[int, str] = {}

    def _chunk(self, message_type: str, sub: int, **fields: Any) -> None:
        otid = otid_for(self.message_id, sub)
        self.streamed_otids.add(otid)
        payload = {
            "id": self.message_id, "date": self.date.isoformat(), "message_type": message_type, "otid": otid,
            "run_id": self.run_id, "step_id": self.step_id, **fields,
        }  # fmt: skip
        self.count += 1
        self.pending.append((f"{self.step_id}:a{self.attempt}:d{self.count}", "delta", payload))

    async def on_delta(self, delta: StreamDelta) -> None:
        if delta.kind == "reasoning" and delta.text:
            self._chunk("reasoning_message", REASONING_SUB, reasoning=delta.text, source="reasoner_model")
        elif delta.kind == "content" and delta.text:
            self._chunk("assistant_message", TEXT_SUB, content=delta.text)
        elif delta.kind == "tool_call":
            self._tool_delta(delta)
        if time.monotonic() - self.last_flush >= FLUSH_INTERVAL_S:
            await self.flush()

    def _tool_delta(self, delta: StreamDelta) -> None:
        i = delta.index
        if delta.tool_name:
            self.tool_names[i] = delta.tool_name
        self.tool_args[i] = self.tool_args.get(i, "") + (delta.text or "")
        sub = TOOL_CALL_SUB + i
        if self.tool_names.get(i) == self.assistant_tool:
            said = partial_json_string(self.tool_args[i], self.assistant_kwarg)
            new = said[len(self.said.get(i, "")) :]
            self.said[i] = said
            if new:
                self._chunk("assistant_message", sub, content=new)
            return
        kind = "approval_request_message" if self.tool_names.get(i) in self.approval_tools else "tool_call_message"
        if delta.tool_call_id or delta.tool_name:
            call = {"name": delta.tool_name, "arguments": None, "tool_call_id": delta.tool_call_id}
            self._chunk(kind, sub, tool_call=call, tool_calls=call)
        if delta.text:
            call = {"name": None, "arguments": delta.text, "tool_call_id": None}
            self._chunk(kind, sub, tool_call=call, tool_calls=call)

    async def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        async with self.sessions.begin() as session:
            await run_events.append_events(session, self.org_id, self.run_id, self.take_pending())

    def take_pending(self) -> list[tuple[str, str, dict]]:
        """The buffered deltas, for the caller to append in its own transaction (the step's final write):
        a reply that streamed within one flush interval then costs no transaction of its own."""
        batch, self.pending = self.pending, []
        return batch
