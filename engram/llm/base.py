"""The provider-neutral shape of one LLM call: what the agent loop sends and what it gets back.

Stdlib dataclasses only, so activities can pass them around without pulling in an SDK. Every
provider (OpenAI-compatible, Anthropic, the built-in offline model) speaks exactly this protocol.
Tool-call arguments stay raw JSON text as the model produced it: parsing (and reporting malformed
JSON back to the model as a tool error) is the tool executor's job, not the provider's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model produced it; may be malformed


@dataclass
class ChatMessage:
    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)  # assistant only
    tool_call_id: str | None = None  # tool only
    name: str | None = None  # tool name, for tool messages
    reasoning: str | None = None  # assistant inner thoughts; informational, never sent back
    # What providers derived from this message (wire JSON, a token estimate), keyed by who derived it. The
    # worker's window cache hands the same ChatMessage to every step while its rows are unchanged, so this
    # is computed once per message instead of once per step. Never part of equality; never mutate a message
    # after it has been sent.
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict  # JSON schema of the arguments object


@dataclass
class LlmRequest:
    model: str  # provider-local model name (e.g. "gpt-4o-mini"), not the handle
    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: str = "auto"  # "auto" | "required" | "none" | <tool name> (force that tool)
    max_tokens: int | None = None
    temperature: float | None = None
    parallel_tool_calls: bool = False


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass
class LlmResponse:
    content: str | None
    reasoning: str | None
    tool_calls: list[ToolCall]
    finish_reason: str  # "stop" | "tool_calls" | "length" | "content_filter" | ...
    usage: Usage
    model: str


@dataclass
class StreamDelta:
    kind: Literal["content", "reasoning", "tool_call"]
    text: str = ""  # content/reasoning delta, or a tool-call argument fragment
    index: int = 0  # tool call index within the response
    tool_call_id: str | None = None  # set on the first fragment of a tool call
    tool_name: str | None = None


OnDelta = Callable[[StreamDelta], Awaitable[None]]


class LlmProvider(Protocol):
    async def complete(self, request: LlmRequest, on_delta: OnDelta | None = None) -> LlmResponse:
        """One model call. Streams (awaiting `on_delta` per chunk, in order) when `on_delta` is
        given, otherwise makes a plain call; either way returns the full response.

        Raises `engram.llm.errors.LlmError` subclasses only, never SDK exceptions.
        """
        ...
