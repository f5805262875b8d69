"""`engram/offline`: a deterministic, network-free demo and test model that speaks the tool protocol.

It is not a language model. It reads the latest user message and the compiled core memory in the
system prompt and then, like a MemGPT agent would:
  1. saves stated facts ("my name is Ada", "I like chess") with a memory tool (memory_insert,
     memory_replace, core_memory_append/replace or memory_rethink), asking for a heartbeat when the
     tool has a `request_heartbeat` parameter;
  2. otherwise replies: acknowledges what it saved this turn, answers questions about the user from
     the `human` block, or says something generic;
  3. delivers the reply with `send_message` when offered (memgpt styles), else as plain content
     (letta_v1 style);
  3b. asks to be woken ("wake me in 30 seconds about the oven") with schedule_wakeup when offered,
     and answers a wake-up event with a reminder of its reason;
  4. never loops: after a failed tool call it explains instead of retrying, and it makes at most a
     few tool calls per turn;
  5. calls any attached tool on request: a user message `call <tool_name> {"json": "args"}` makes it
     call that tool once with those arguments and then report what the tool returned (so tests can
     drive custom and MCP tools end to end).
Same request, same response: tool-call ids derive from the request, so retries are identical.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from engram.llm.base import (
    ChatMessage,
    LlmRequest,
    LlmResponse,
    OnDelta,
    StreamDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from engram.llm.offline_facts import (
    Fact,
    answer_question,
    conflicting_line,
    extract_facts,
    facts_in_block,
    is_known,
    join_phrases,
    parse_memory_blocks,
)
from engram.llm.offline_files import FILE_TOOLS, file_tool_call
from engram.llm.tokens import estimate_text_tokens, estimate_tokens

OFFLINE_HANDLE = "engram/offline"
MAX_TOOL_CALLS_PER_TURN = 4
_SYSTEM_EVENT_TYPES = frozenset({"heartbeat", "system_alert", "login", "system_message", "wake_up"})
_HIDDEN_PREFIX = "[This is an automated system message hidden from the user]"
_WAKEUP_TOOL = "schedule_wakeup"
_WAKE_REQUEST = re.compile(
    r"\b(?:wake me(?: up)?|remind me)\s+in\s+(\d+(?:\.\d+)?)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b"
    r"(?:\s+(?:about|to|that|of)\s+(?P<reason>[^.!?\n]+))?",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MEMORY_TOOLS = (
    "memory_insert",
    "memory_replace",
    "core_memory_append",
    "core_memory_replace",
    "memory_rethink",
)


class OfflineProvider:
    """The `LlmProvider` for `engram/offline`; stateless, so one instance serves every agent."""

    name = "engram"

    async def complete(self, request: LlmRequest, on_delta: OnDelta | None = None) -> LlmResponse:
        response = respond(request)
        if on_delta is not None:
            await _stream(response, on_delta)
        return response


@dataclass
class _Call:
    call: ToolCall
    result: str | None = None

    @property
    def failed(self) -> bool:
        return self.result is not None and _is_failure(self.result)


@dataclass
class _Turn:
    """What the model can see: the user's latest words, what it did since, and core memory."""

    user_text: str
    calls: list[_Call] = field(default_factory=list)
    blocks: dict[str, str] = field(default_factory=dict)
    wakeup_reason: str | None = None  # this turn was started by a wake-up the agent scheduled earlier
    system_text: str = ""

    @property
    def memory_label(self) -> str:
        if "human" in self.blocks:
            return "human"
        return next((label for label in self.blocks if label != "persona"), "human")

    @property
    def saved_facts(self) -> list[Fact]:
        """Facts this turn's successful memory edits wrote (the system prompt may not show them yet)."""
        saved: list[Fact] = []
        for done in self.calls:
            if done.call.name in _MEMORY_TOOLS and not done.failed:
                args = _loads(done.call.arguments)
                text = str(
                    args.get("new_string")
                    or args.get("content")
                    or args.get("new_content")
                    or args.get("new_memory")
                    or ""
                )
                saved.extend(facts_in_block(text))
        return saved

    @property
    def memory_text(self) -> str:
        return self.blocks.get(self.memory_label, "") + "\n" + "\n".join(f.line for f in self.saved_facts)

    @property
    def is_sleeptime_review(self) -> bool:
        """A sleep-time agent's input: a reminder, then "Messages:" and a transcript of another conversation."""
        return self.user_text.startswith("<system-reminder>") and "\nMessages:\n" in self.user_text

    def pending_facts(self) -> list[Fact]:
        memory = self.memory_text
        source = self.user_text
        if _agent_message_call(source):
            return []  # a message for another agent states nothing about this user
        if self.is_sleeptime_review:  # only what the user said in the reviewed transcript states facts
            transcript = source.split("\nMessages:\n", 1)[1]
            source = "\n".join(line[len("user: "):] for line in transcript.splitlines() if line.startswith("user: "))
        return [f for f in extract_facts(source) if not is_known(f, memory)]


def respond(request: LlmRequest) -> LlmResponse:
    """The offline model's whole behaviour: a pure function of the request (also used by tests' fake server)."""
    turn = _read_turn(request.messages)
    tools = {} if request.tool_choice == "none" else {t.name: t for t in request.tools}
    reasoning, content, call = _decide(turn, tools, request.tool_choice)
    tool_calls = []
    if call is not None:
        name, args = call
        arguments = json.dumps(args)
        digest = hashlib.sha256(f"{len(request.messages)}:{name}:{arguments}".encode()).hexdigest()
        tool_calls.append(ToolCall(id=f"call_{digest[:24]}", name=name, arguments=arguments))
    prompt = estimate_tokens(request.messages, request.tools)
    completion = estimate_text_tokens((content or "") + reasoning + "".join(c.arguments for c in tool_calls))
    return LlmResponse(
        content=content,
        reasoning=reasoning,
        tool_calls=tool_calls,
        finish_reason="tool_calls" if tool_calls else "stop",
        usage=Usage(prompt, completion, prompt + completion),
        model=request.model,
    )


def _decide(
    turn: _Turn, tools: dict[str, ToolSpec], tool_choice: str
) -> tuple[str, str | None, tuple[str, dict] | None]:
    """(reasoning, plain content, tool call) for this step."""
    forced = tool_choice if tool_choice in tools else None
    if forced is None and any(done.call.name == "send_message" and not done.failed for done in turn.calls):
        return "I already replied to the user.", None, None  # a letta_v1 agent with send_message steps on: stop
    requested = _requested_call(turn.user_text) or _agent_message_call(turn.user_text)
    if requested and requested[0] in tools and forced in (None, requested[0]):
        name, args = requested
        if not any(done.call.name == name for done in turn.calls):
            return f"The user asked me to call {name}.", None, (name, _with_heartbeat(tools[name], args, True))
    last_failed = bool(turn.calls) and turn.calls[-1].failed
    may_edit = not last_failed and len(turn.calls) < MAX_TOOL_CALLS_PER_TURN
    if not turn.calls and forced is None:
        file_call = file_tool_call(turn.user_text, turn.system_text, set(tools))
        if file_call is not None:
            name, args = file_call
            return f"The user asked me to use {name}.", None, (name, _with_heartbeat(tools[name], args, True))
    pending = turn.pending_facts() if may_edit else []
    if pending and forced in (None, *_MEMORY_TOOLS):
        edit = _memory_edit(turn, pending, tools if forced is None else {forced: tools[forced]})
        if edit is not None:
            return edit[0], None, edit[1]
    if turn.is_sleeptime_review and "memory_finish_edits" in tools and forced in (None, "memory_finish_edits"):
        return "Memory is up to date with the reviewed conversation.", None, ("memory_finish_edits", {})
    wake = _wakeup_request(turn, tools) if may_edit and forced in (None, _WAKEUP_TOOL) else None
    if wake is not None:
        return "The user wants a reminder later; scheduling a wake-up.", None, wake
    if last_failed:
        reasoning, reply = (
            "The last tool call failed; explaining instead of retrying.",
            _failure_reply(turn.calls[-1]),
        )
    elif requested and any(done.call.name == requested[0] for done in turn.calls):
        reasoning, reply = "Reporting what the tool returned.", _requested_result(turn, requested[0])
    else:
        reasoning, reply = _compose_reply(turn)
    if last_failed and turn.calls[-1].call.name == "send_message":
        return reasoning, reply, None  # the reply tool itself failed: answer in plain text, never loop
    if forced is not None and forced != "send_message":
        return reasoning, None, (forced, _placeholder_args(tools[forced], reply, turn.memory_label))
    if "send_message" in tools:
        return (
            reasoning,
            None,
            ("send_message", _with_heartbeat(tools["send_message"], {"message": reply}, False)),
        )
    if tool_choice == "required" and tools:
        first = next(iter(tools.values()))
        return reasoning, None, (first.name, _placeholder_args(first, reply, turn.memory_label))
    return reasoning, reply, None


def _memory_edit(
    turn: _Turn, facts: list[Fact], tools: dict[str, ToolSpec]
) -> tuple[str, tuple[str, dict]] | None:
    """(reasoning, (tool, args)) saving `facts` with the best memory tool on offer; None if none fits."""
    label = turn.memory_label
    memory = turn.blocks.get(label, "")
    for fact in facts:
        old_line = conflicting_line(fact, memory)
        if old_line is None:
            continue
        for tool, old_key, new_key in (
            ("memory_replace", "old_string", "new_string"),
            ("core_memory_replace", "old_content", "new_content"),
        ):
            if tool in tools:
                args = {"label": label, old_key: old_line, new_key: fact.line}
                reasoning = f"User updated {_describe([fact])}; replacing the old entry in core memory."
                return reasoning, (tool, _with_heartbeat(tools[tool], args, True))
    lines = "\n".join(f.line for f in facts)
    reasoning = f"User shared {_describe(facts)}; saving to core memory."
    if "memory_insert" in tools:
        args: dict[str, Any] = {"label": label, "new_string": lines}
        if "insert_line" in _properties(tools["memory_insert"]):
            args["insert_line"] = -1
        return reasoning, ("memory_insert", _with_heartbeat(tools["memory_insert"], args, True))
    if "core_memory_append" in tools:
        args = {"label": label, "content": lines}
        return reasoning, ("core_memory_append", _with_heartbeat(tools["core_memory_append"], args, True))
    if "memory_rethink" in tools:
        args = {"label": label, "new_memory": (memory + "\n" + lines).strip()}
        return reasoning, ("memory_rethink", _with_heartbeat(tools["memory_rethink"], args, True))
    return None


_CALL_REQUEST = re.compile(r"^\s*call\s+([A-Za-z_][\w.-]*)\s*(\{.*\})?\s*$", re.DOTALL | re.IGNORECASE)


def _requested_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """`call <tool_name> {json args}` -> (tool name, args); the arguments are optional."""
    match = _CALL_REQUEST.match(text or "")
    if match is None:
        return None
    return match.group(1), _loads(match.group(2) or "{}")


_ASK_AGENT = re.compile(r"^\s*(ask|tell) agent (agent-[0-9a-f-]{36})\s*[:,]\s*(.+)$", re.DOTALL | re.IGNORECASE)
_ASK_TAGGED = re.compile(r"^\s*ask (?:all )?agents tagged ([\w\-, ]+?)\s*:\s*(.+)$", re.DOTALL | re.IGNORECASE)


def _agent_message_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """Multi-agent phrases: "ask agent <id>: ..." waits for the reply, "tell agent <id>: ..." does not,
    "ask agents tagged a, b: ..." asks every agent with one of those tags."""
    match = _ASK_AGENT.match(text or "")
    if match is not None:
        tool = "send_message_to_agent_and_wait_for_reply" if match.group(1).lower() == "ask" else "send_message_to_agent_async"
        return tool, {"message": match.group(3).strip(), "other_agent_id": match.group(2)}
    match = _ASK_TAGGED.match(text or "")
    if match is not None:
        tags = [t.strip() for t in match.group(1).split(",") if t.strip()]
        return "send_message_to_agents_matching_tags", {"message": match.group(2).strip(), "match_all": [], "match_some": tags}
    return None


def _requested_result(turn: _Turn, name: str) -> str:
    done = next(c for c in reversed(turn.calls) if c.call.name == name)
    packaged = _loads(done.result or "")
    result = packaged.get("message", done.result or "")
    return f"{name} returned: {result}"


def _compose_reply(turn: _Turn) -> tuple[str, str]:
    """(reasoning, reply text): acknowledge saved facts, answer a question from memory, or chat."""
    if turn.wakeup_reason is not None:
        return "A wake-up I scheduled fired; acting on it.", f"Wake-up reminder: {turn.wakeup_reason}"
    scheduled = next((_loads(c.call.arguments) for c in turn.calls if c.call.name == _WAKEUP_TOOL and not c.failed), None)
    if scheduled is not None:
        return "Wake-up scheduled; confirming.", (
            f"OK, I'll wake up in {scheduled.get('after_seconds')} seconds about {scheduled.get('reason')}."
        )
    file_result = next((c for c in reversed(turn.calls) if c.call.name in FILE_TOOLS and not c.failed), None)
    if file_result is not None:
        found = str(_loads(file_result.result or "").get("message") or file_result.result or "").strip()
        return "Reporting what the file tool returned.", f"Here is what {file_result.call.name} returned:\n{found[:1500]}"
    saved = [f for f in turn.saved_facts if f in extract_facts(turn.user_text)] or turn.saved_facts
    answer = answer_question(turn.user_text, turn.memory_text, turn.blocks.get("persona", ""))
    parts = []
    if saved:
        parts.append(f"Got it, I'll remember that {join_phrases([f.phrase() for f in saved])}.")
    unsaved = [f for f in extract_facts(turn.user_text) if f not in saved]
    already = [f for f in unsaved if is_known(f, turn.memory_text)]
    if already:
        parts.append(f"I already know that {join_phrases([f.phrase() for f in already])}.")
    if len(already) < len(unsaved) and not saved:  # no memory tool on offer
        told = [f.phrase() for f in unsaved if f not in already]
        parts.append(f"Thanks for telling me that {join_phrases(told)}.")
    if answer:
        parts.append(answer)
    if parts:
        reasoning = "Memory updated; confirming to the user." if saved else "Answering from what I know."
        return reasoning, " ".join(parts)
    return "Replying to the user.", _small_talk(turn)


def _wakeup_request(turn: _Turn, tools: dict[str, ToolSpec]) -> tuple[str, dict] | None:
    """("schedule_wakeup", args) for "wake me in N seconds about X" (once per turn, when the tool is on offer)."""
    match = _WAKE_REQUEST.search(turn.user_text)
    if match is None or _WAKEUP_TOOL not in tools or any(c.call.name == _WAKEUP_TOOL for c in turn.calls):
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
    reason = (match.group("reason") or "the reminder you asked for").strip()
    args = {"after_seconds": int(seconds) if seconds.is_integer() else seconds, "reason": reason}
    return _WAKEUP_TOOL, _with_heartbeat(tools[_WAKEUP_TOOL], args, True)


def _small_talk(turn: _Turn) -> str:
    text = turn.user_text.strip()
    name = next((f.value for f in facts_in_block(turn.memory_text) if f.key == "Name"), None)
    if not text or re.match(
        r"^(hi|hello|hey|good (morning|afternoon|evening)|greetings)\b", text, re.IGNORECASE
    ):
        return f"Hello{', ' + name if name else ''}! How can I help you today?"
    if re.match(r"^(thanks|thank you|thx)\b", text, re.IGNORECASE):
        return "You're welcome!"
    gist = text if len(text) <= 80 else text[:77].rstrip() + "..."
    return (
        f'You said: "{gist}". I\'m the offline demo model: tell me about yourself (your name, what you '
        "like) and I'll remember it."
    )


def _failure_reply(failed: _Call) -> str:
    detail = _loads(failed.result or "").get("message") or failed.result or ""
    detail = str(detail).strip()[:200]
    return f"Sorry, I couldn't complete that: my {failed.call.name} call failed ({detail})."


def _describe(facts: list[Fact]) -> str:
    keys = {f.key for f in facts}
    if keys == {"Name"}:
        return "their name"
    if keys <= {"Likes", "Dislikes"}:
        return "a preference"
    return "something about themselves" if len(facts) == 1 else "some facts about themselves"


def _read_turn(messages: list[ChatMessage]) -> _Turn:
    system = "\n".join(m.content or "" for m in messages if m.role == "system")
    turn_start, user_text, wakeup_reason = 0, "", None
    for index in range(len(messages) - 1, -1, -1):
        wakeup_reason = _wakeup_reason(messages[index])
        text = _user_text(messages[index])
        if text is not None or wakeup_reason is not None:
            turn_start, user_text = index + 1, text or ""
            break
    results = {m.tool_call_id: m.content or "" for m in messages[turn_start:] if m.role == "tool"}
    calls = [
        _Call(c, results.get(c.id))
        for m in messages[turn_start:]
        if m.role == "assistant"
        for c in m.tool_calls
    ]
    return _Turn(user_text=user_text, calls=calls, blocks=parse_memory_blocks(system), wakeup_reason=wakeup_reason,
                 system_text=system)


def starts_turn(message: ChatMessage) -> bool:
    """Whether the offline model reads its turn from this message on (a user's words or a wake-up): all it
    reads of a request is the system text, the messages from the last such one, and how many there are."""
    return _user_text(message) is not None or _wakeup_reason(message) is not None


def _wakeup_reason(message: ChatMessage) -> str | None:
    """The reason of a wake-up event (a user-role JSON message the schedule_wakeup tool's firing sends)."""
    if message.role != "user" or message.content is None:
        return None
    event = _loads(message.content.strip())
    return str(event.get("reason") or "") if event.get("type") == "wake_up" else None


def _user_text(message: ChatMessage) -> str | None:
    """The words of a real user message; None for heartbeats and other system events sent as user rows."""
    if message.role != "user" or message.content is None:
        return None
    text = message.content.strip()
    if text.startswith(_HIDDEN_PREFIX):
        return None
    if text.startswith("[Incoming message from agent with ID") and "]\n" in text:
        text = text.split("]\n", 1)[1].strip()  # another agent wrote it: act on the message itself
    event = _loads(text)
    if event.get("type") in _SYSTEM_EVENT_TYPES:
        return None
    if event.get("type") == "user_message" and isinstance(event.get("message"), str):
        return event["message"]  # legacy Letta wrapping of user text
    return text


def _is_failure(result: str) -> bool:
    packaged = _loads(result)
    message = str(packaged.get("message", ""))
    return (
        packaged.get("status") == "Failed"
        or result.lstrip().startswith("Error")
        or message.startswith("Error")
    )


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _properties(tool: ToolSpec) -> dict[str, Any]:
    return (tool.parameters or {}).get("properties") or {}


def _with_heartbeat(tool: ToolSpec, args: dict[str, Any], wants_more: bool) -> dict[str, Any]:
    if "request_heartbeat" in _properties(tool):
        args["request_heartbeat"] = wants_more
    return args


_PLACEHOLDERS = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}


def _placeholder_args(tool: ToolSpec, reply: str, label: str) -> dict[str, Any]:
    """Plausible arguments for a tool the request forces: the reply for text fields, else type defaults."""
    properties = _properties(tool)
    args: dict[str, Any] = {}
    for name in (tool.parameters or {}).get("required") or []:
        kind = (properties.get(name) or {}).get("type", "string")
        if name == "label":
            args[name] = label
        elif kind == "string" and name in ("message", "content", "query"):
            args[name] = reply
        else:
            args[name] = _PLACEHOLDERS.get(kind, "")
    return _with_heartbeat(tool, args, True)


async def _stream(response: LlmResponse, on_delta: OnDelta) -> None:
    """Replay a finished response as deltas: reasoning, content in word chunks, tool-call arguments."""
    if response.reasoning:
        await on_delta(StreamDelta(kind="reasoning", text=response.reasoning))
    for word in re.findall(r"\s*\S+", response.content or ""):
        await on_delta(StreamDelta(kind="content", text=word))
    for index, call in enumerate(response.tool_calls):
        await on_delta(StreamDelta(kind="tool_call", index=index, tool_call_id=call.id, tool_name=call.name))
        for start in range(0, len(call.arguments), 16):
            await on_delta(
                StreamDelta(kind="tool_call", text=call.arguments[start : start + 16], index=index)
            )
