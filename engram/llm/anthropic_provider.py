"""Anthropic messages API with tools, plain and streamed.

Translating our OpenAI-shaped history into Anthropic's: system messages go to `system`, tool results
travel as user `tool_result` blocks, and consecutive same-role turns are merged because the API
rejects two user (or two assistant) turns in a row. All SDK failures become `engram.llm.errors`
in `_map_error`.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from engram.llm.base import ChatMessage, LlmRequest, LlmResponse, OnDelta, StreamDelta, ToolCall, Usage
from engram.llm.errors import (
    InvalidLlmResponse,
    LlmError,
    ProviderRejected,
    ProviderUnavailable,
    error_for_status,
    transport_error_types,
)

DEFAULT_TIMEOUT = anthropic.Timeout(120.0, connect=10.0)
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens on every request
_TRANSPORT_ERRORS = transport_error_types()
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
# Mid-stream `error` events arrive on an HTTP 200; their error type tells what the status would have been.
_STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicProvider:
    """One `AsyncAnthropic` client, built once and shared by every call (see `registry`)."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        name: str = "anthropic",
        timeout: anthropic.Timeout | float = DEFAULT_TIMEOUT,
        http_client: Any = None,
    ) -> None:
        # max_retries=0: Temporal's activity retry policy owns retries (see openai_provider).
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout, http_client=http_client
        )
        self.name = name

    async def aclose(self) -> None:
        """Close the connection pool (worker shutdown, tests)."""
        await self._client.close()

    async def complete(self, request: LlmRequest, on_delta: OnDelta | None = None) -> LlmResponse:
        params = _params(request)
        try:
            if on_delta is None:
                return _from_message(await self._client.messages.create(**params), request.model)
            stream = await self._client.messages.create(**params, stream=True)
            async with stream:
                return await _assemble_stream(stream, request.model, on_delta, self.name)
        except anthropic.AnthropicError as exc:
            raise _map_error(exc, self.name) from exc
        except _TRANSPORT_ERRORS as exc:
            raise ProviderUnavailable(
                f"{self.name}: connection failed mid-response: {exc!r}", provider=self.name
            ) from exc


def _params(request: LlmRequest) -> dict[str, Any]:
    system, messages = _to_anthropic_messages(request.messages)
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    if system:
        params["system"] = system
    if request.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
        params["tool_choice"] = _tool_choice(request.tool_choice, request.parallel_tool_calls)
    if request.temperature is not None:
        # The installed SDK's messages.create has no `temperature` keyword (a TypeError, every call failed);
        # the Messages API still takes it in the body.
        params["extra_body"] = {"temperature": request.temperature}
    return params


def _tool_choice(choice: str, parallel: bool) -> dict[str, Any]:
    if choice == "none":
        return {"type": "none"}
    mapped: dict[str, Any] = (
        {"type": "auto"}
        if choice == "auto"
        else {"type": "any"}
        if choice == "required"
        else {"type": "tool", "name": choice}
    )
    if not parallel:
        mapped["disable_parallel_tool_use"] = True
    return mapped


def _to_anthropic_messages(history: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """Leading system messages become `system`; later ones (e.g. agent-to-agent notes) become user text."""
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in history:
        if message.role == "system" and not turns:
            system_parts.append(message.content or "")
            continue
        role, blocks = _blocks_of(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns or turns[0]["role"] != "user":  # the API requires the conversation to open with a user turn
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation continues)"}]})
    return "\n\n".join(p for p in system_parts if p), turns


def _blocks_of(message: ChatMessage) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        return "user", [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content or "",
            }
        ]
    text_blocks = [{"type": "text", "text": message.content}] if message.content else []
    if message.role != "assistant":
        return "user", text_blocks
    tool_blocks = [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": _input_object(call.arguments)}
        for call in message.tool_calls
    ]
    return "assistant", text_blocks + tool_blocks


def _input_object(arguments: str) -> dict[str, Any]:
    """Anthropic wants the input as an object; malformed arguments from an earlier step become {}."""
    try:
        parsed = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _arguments_text(tool_input: Any) -> str:
    return tool_input if isinstance(tool_input, str) else json.dumps(tool_input)


def _finish(stop_reason: str | None, has_tool_calls: bool) -> str:
    if stop_reason is None:
        return "tool_calls" if has_tool_calls else "stop"
    return _FINISH_REASONS.get(stop_reason, stop_reason)


def _usage(input_tokens: int, output_tokens: int, raw: Any = None) -> Usage:
    cached = (getattr(raw, "cache_creation_input_tokens", None) or 0) + (
        getattr(raw, "cache_read_input_tokens", None) or 0
    )
    prompt = input_tokens + cached
    return Usage(prompt, output_tokens, prompt + output_tokens)


def _from_message(message: Any, model: str) -> LlmResponse:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "thinking":
            thoughts.append(block.thinking)
        elif block.type == "tool_use":
            calls.append(ToolCall(id=block.id, name=block.name, arguments=_arguments_text(block.input)))
    usage = message.usage
    return LlmResponse(
        content="".join(texts) or None,
        reasoning="".join(thoughts) or None,
        tool_calls=calls,
        finish_reason=_finish(message.stop_reason, bool(calls)),
        usage=_usage(usage.input_tokens, usage.output_tokens, usage),
        model=message.model or model,
    )


async def _assemble_stream(stream: Any, model: str, on_delta: OnDelta, provider: str) -> LlmResponse:
    assembly = _StreamAssembly(model, on_delta)
    async for event in stream:
        await assembly.feed(event)
    if (
        not assembly.finished
    ):  # the body ended early (proxy or server died): the answer may be cut mid-argument
        raise ProviderUnavailable(f"{provider}: stream ended before the model finished", provider=provider)
    return assembly.response()


class _StreamAssembly:
    """Accumulates Anthropic stream events into one response, forwarding deltas as they arrive."""

    def __init__(self, model: str, on_delta: OnDelta) -> None:
        self.model = model
        self.on_delta = on_delta
        self.texts: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[ToolCall] = []
        self.fragments: list[list[str]] = []
        self.call_by_block: dict[int, int] = {}  # Anthropic content index -> our tool-call index
        self.stop_reason: str | None = None
        self.input_tokens = self.output_tokens = 0
        self.start_usage: Any = None
        self.finished = False

    async def feed(self, event: Any) -> None:
        if event.type == "message_start":
            self.model = event.message.model or self.model
            self.start_usage = event.message.usage
            self.input_tokens, self.output_tokens = (
                self.start_usage.input_tokens,
                self.start_usage.output_tokens,
            )
        elif event.type == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            index = self.call_by_block[event.index] = len(self.calls)
            self.calls.append(ToolCall(id=block.id, name=block.name, arguments=""))
            self.fragments.append([])
            await self.on_delta(
                StreamDelta(kind="tool_call", index=index, tool_call_id=block.id, tool_name=block.name)
            )
        elif event.type == "content_block_delta":
            await self._delta(event.index, event.delta)
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.output_tokens = event.usage.output_tokens or self.output_tokens
            self.input_tokens = getattr(event.usage, "input_tokens", None) or self.input_tokens
        elif event.type == "message_stop":
            self.finished = True

    async def _delta(self, block_index: int, delta: Any) -> None:
        if delta.type == "text_delta":
            self.texts.append(delta.text)
            await self.on_delta(StreamDelta(kind="content", text=delta.text))
        elif delta.type == "thinking_delta":
            self.thoughts.append(delta.thinking)
            await self.on_delta(StreamDelta(kind="reasoning", text=delta.thinking))
        elif delta.type == "input_json_delta" and block_index in self.call_by_block:
            index = self.call_by_block[block_index]
            self.fragments[index].append(delta.partial_json)
            await self.on_delta(StreamDelta(kind="tool_call", text=delta.partial_json, index=index))

    def response(self) -> LlmResponse:
        for call, fragments in zip(self.calls, self.fragments, strict=True):
            call.arguments = "".join(fragments) or "{}"  # a tool with no arguments streams no JSON
        return LlmResponse(
            content="".join(self.texts) or None,
            reasoning="".join(self.thoughts) or None,
            tool_calls=self.calls,
            finish_reason=_finish(self.stop_reason, bool(self.calls)),
            usage=_usage(self.input_tokens, self.output_tokens, self.start_usage),
            model=self.model,
        )


def _error_detail(exc: anthropic.APIError) -> tuple[str | None, str]:
    """(error type, human message) from an Anthropic error body `{"type": "error", "error": {...}}`."""
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("type"), str(error.get("message") or exc.message)
    return None, exc.message


def _map_error(exc: anthropic.AnthropicError, provider: str) -> LlmError:
    """The single place where Anthropic SDK exceptions become Engram's LLM errors."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderUnavailable(f"{provider}: request timed out", provider=provider)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderUnavailable(f"{provider}: cannot connect: {exc}", provider=provider)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return InvalidLlmResponse(f"{provider}: malformed response: {exc.message}", provider=provider)
    if isinstance(exc, anthropic.APIStatusError):
        error_type, message = _error_detail(exc)
        status = exc.status_code
        if status < 400:  # error event inside a 200 stream
            status = _STATUS_BY_ERROR_TYPE.get(error_type or "", 500)
        return error_for_status(
            status, f"{provider} returned HTTP {status}: {message}", provider=provider, code=error_type
        )
    if isinstance(exc, anthropic.APIError):
        return ProviderUnavailable(f"{provider}: {exc.message}", provider=provider)
    return ProviderRejected(f"{provider}: {exc}", provider=provider)
