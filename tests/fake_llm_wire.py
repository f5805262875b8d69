"""Wire formats of the fake LLM server: scripted replies (`FakeReply`) rendered as OpenAI chat
completions / Anthropic messages (plain JSON and SSE event sequences), and wire requests parsed back
into `LlmRequest` so the offline model can answer unscripted calls.

Shapes follow the providers' documented responses closely enough that the real SDKs parse them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engram.llm.base import ChatMessage, LlmRequest, LlmResponse, ToolCall, ToolSpec
from engram.llm.offline import starts_turn

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_CONTEXT_MESSAGES = {
    "openai": "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 "
    "tokens. Please reduce the length of the messages.",
    "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
}
_ANTHROPIC_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


@dataclass
class FakeToolCall:
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)  # a str is sent verbatim (malformed JSON)
    id: str | None = None

    @property
    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class FakeReply:
    """One scripted answer: text and/or tool calls, or an HTTP error; optionally slow; optionally forever."""

    content: str | None = None
    tool_calls: list[FakeToolCall] = field(default_factory=list)
    reasoning: str | None = None
    status: int = 200
    error_message: str | None = None  # default: a message typical of the status
    error_code: str | None = None  # OpenAI `error.code`, e.g. "context_length_exceeded"
    error_body: dict[str, Any] | None = None  # sent verbatim instead of the generated error body
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float = 0.0  # between stream chunks
    repeat: bool = False  # stays at the head of the queue: a model that never stops
    finish_reason: str | None = None  # default: "tool_calls" with tool calls, else "stop"
    cut_after_chunks: int | None = None  # streams only: end the body after N events, with no end marker

    @classmethod
    def text(cls, content: str, **kw: Any) -> FakeReply:
        return cls(content=content, **kw)

    @classmethod
    def tool(cls, name: str, arguments: dict[str, Any] | str | None = None, **kw: Any) -> FakeReply:
        return cls(tool_calls=[FakeToolCall(name, {} if arguments is None else arguments)], **kw)

    @classmethod
    def tools(cls, *calls: FakeToolCall, **kw: Any) -> FakeReply:
        return cls(tool_calls=list(calls), **kw)

    @classmethod
    def http_error(
        cls, status: int, message: str | None = None, code: str | None = None, **kw: Any
    ) -> FakeReply:
        return cls(status=status, error_message=message, error_code=code, **kw)

    @classmethod
    def context_overflow(cls, **kw: Any) -> FakeReply:
        """HTTP 400 worded as each provider words a too-long prompt."""
        return cls(status=400, error_code="context_length_exceeded", **kw)

    @classmethod
    def from_response(cls, response: LlmResponse) -> FakeReply:
        calls = [FakeToolCall(c.name, c.arguments, c.id) for c in response.tool_calls]
        return cls(content=response.content, tool_calls=calls, reasoning=response.reasoning)

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


# -- wire formats ----------------------------------------------------------------------------------


def _pieces(text: str | None, size: int = 6) -> list[str]:
    text = text or ""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _completion_tokens(reply: FakeReply) -> int:
    return 1 + len((reply.content or "") + "".join(c.arguments_text for c in reply.tool_calls)) // 4


def error_body(api: str, reply: FakeReply) -> dict[str, Any]:
    if reply.error_body is not None:
        return reply.error_body
    is_context = reply.error_code == "context_length_exceeded"
    message = reply.error_message or (_CONTEXT_MESSAGES[api] if is_context else f"fake error {reply.status}")
    if api == "openai":
        kind = "invalid_request_error" if reply.status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": reply.error_code}}
    kind = _ANTHROPIC_ERROR_TYPES.get(
        reply.status, "api_error" if reply.status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}}


def openai_completion(model: str, reply: FakeReply, ids: list[str], prompt_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": c.name, "arguments": c.arguments_text}}
            for i, c in zip(ids, reply.tool_calls, strict=True)
        ]
    completion = _completion_tokens(reply)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        },
    }


def openai_chunks(
    model: str, reply: FakeReply, ids: list[str], prompt_tokens: int, include_usage: bool
) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.reasoning):
        yield chunk({"reasoning_content": piece})
    for piece in _pieces(reply.content):
        yield chunk({"content": piece})
    for index, (call_id, call) in enumerate(zip(ids, reply.tool_calls, strict=True)):
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        yield chunk({"tool_calls": [head]})
        for piece in _pieces(call.arguments_text, 8):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, reply.finish)
    if include_usage:
        completion = _completion_tokens(reply)
        yield {
            **base,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": prompt_tokens + completion,
            },
        }


def _tool_input(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments  # the real API never does this; lets a test feed malformed input through


def anthropic_message(model: str, reply: FakeReply, ids: list[str], prompt_tokens: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": "fake-signature"})
    if reply.content:
        content.append({"type": "text", "text": reply.content})
    for call_id, call in zip(ids, reply.tool_calls, strict=True):
        content.append(
            {"type": "tool_use", "id": call_id, "name": call.name, "input": _tool_input(call.arguments_text)}
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _ANTHROPIC_STOP.get(reply.finish, reply.finish),
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens, "output_tokens": _completion_tokens(reply)},
    }


def anthropic_events(
    model: str, reply: FakeReply, ids: list[str], prompt_tokens: int
) -> Iterator[dict[str, Any]]:
    start = anthropic_message(model, FakeReply(), [], prompt_tokens)
    start.update(content=[], stop_reason=None, usage={"input_tokens": prompt_tokens, "output_tokens": 1})
    yield {"type": "message_start", "message": start}
    yield {"type": "ping"}
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if reply.reasoning:
        blocks.append(
            (
                {"type": "thinking", "thinking": "", "signature": ""},
                [{"type": "thinking_delta", "thinking": p} for p in _pieces(reply.reasoning)]
                + [{"type": "signature_delta", "signature": "fake-signature"}],
            )
        )
    if reply.content:
        blocks.append(
            (
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": p} for p in _pieces(reply.content)],
            )
        )
    for call_id, call in zip(ids, reply.tool_calls, strict=True):
        blocks.append(
            (
                {"type": "tool_use", "id": call_id, "name": call.name, "input": {}},
                [{"type": "input_json_delta", "partial_json": p} for p in _pieces(call.arguments_text, 8)],
            )
        )
    for index, (block, deltas) in enumerate(blocks):
        yield {"type": "content_block_start", "index": index, "content_block": block}
        for delta in deltas:
            yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": _ANTHROPIC_STOP.get(reply.finish, reply.finish), "stop_sequence": None},
        "usage": {"output_tokens": _completion_tokens(reply)},
    }
    yield {"type": "message_stop"}


# -- wire requests -> LlmRequest (for the offline default) -----------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _openai_message(m: dict[str, Any]) -> ChatMessage:
    role = {"developer": "system"}.get(m.get("role"), m.get("role"))
    calls = [
        ToolCall(c.get("id", ""), c["function"]["name"], c["function"].get("arguments") or "")
        for c in m.get("tool_calls") or []
    ]
    text = _text_of(m.get("content")) if m.get("content") is not None else None
    return ChatMessage(role, text, calls, m.get("tool_call_id"))


_ELIDED = ChatMessage("assistant", None)


def openai_to_request(body: dict[str, Any], *, turn_only: bool = False) -> LlmRequest:
    """The request as Engram's providers would have built it. `turn_only`: for the offline model, which reads
    only the system text and the current turn (engram.llm.offline.starts_turn), earlier messages are left
    unconverted (one shared placeholder each, so the count stays): the fake then answers a long conversation
    in time that does not grow with it, as a zero-latency LLM should in benchmarks."""
    raw = body.get("messages", [])
    if not turn_only:
        messages = [_openai_message(m) for m in raw]
    else:
        messages = [_ELIDED] * len(raw)
        for index in range(len(raw) - 1, -1, -1):
            messages[index] = _openai_message(raw[index])
            if starts_turn(messages[index]):
                break
        for index, m in enumerate(raw):
            if messages[index] is _ELIDED and m.get("role") in ("system", "developer"):
                messages[index] = _openai_message(m)
    tools = [
        ToolSpec(
            t["function"]["name"], t["function"].get("description", ""), t["function"].get("parameters", {})
        )
        for t in body.get("tools") or []
    ]
    choice = body.get("tool_choice", "auto")
    if isinstance(choice, dict):
        choice = choice.get("function", {}).get("name", "auto")
    return LlmRequest(str(body.get("model", "")), messages, tools, choice)


def anthropic_to_request(body: dict[str, Any]) -> LlmRequest:
    system = _text_of(body.get("system"))
    messages = [ChatMessage("system", system)] if system else []
    for m in body.get("messages", []):
        blocks = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        texts, calls = [], []
        for block in blocks:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                calls.append(ToolCall(block["id"], block["name"], json.dumps(block.get("input", {}))))
            elif block.get("type") == "tool_result":
                messages.append(
                    ChatMessage("tool", _text_of(block.get("content")), tool_call_id=block["tool_use_id"])
                )
        if m["role"] == "assistant":
            messages.append(ChatMessage("assistant", "".join(texts) or None, calls))
        elif texts:
            messages.append(ChatMessage("user", "\n".join(texts)))
    tools = [
        ToolSpec(t["name"], t.get("description", ""), t.get("input_schema", {}))
        for t in body.get("tools") or []
    ]
    choice = body.get("tool_choice") or {"type": "auto"}
    mapped = {"auto": "auto", "any": "required", "none": "none"}.get(
        choice.get("type"), choice.get("name", "auto")
    )
    return LlmRequest(str(body.get("model", "")), messages, tools, mapped)
