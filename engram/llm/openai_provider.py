"""OpenAI chat completions with function calling; also any OpenAI-compatible server (Ollama, vLLM,
llama.cpp, LM Studio) through `base_url`.

Streaming assembles tool-call fragments by index. Servers that expose a reasoning trace
(`reasoning_content` from DeepSeek/vLLM, `reasoning` from Ollama/OpenRouter) have it mapped to
`LlmResponse.reasoning`. All SDK failures become `engram.llm.errors` in `_map_error`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from engram.llm.base import (
    ChatMessage,
    LlmRequest,
    LlmResponse,
    OnDelta,
    StreamDelta,
    ToolCall,
    Usage,
)
from engram.llm.errors import (
    ContextWindowExceeded,
    InvalidLlmResponse,
    LlmError,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    error_for_status,
    mentions_context_overflow,
    transport_error_types,
)
from engram.llm.tokens import estimate_text_tokens, estimate_tokens

DEFAULT_TIMEOUT = openai.Timeout(120.0, connect=10.0)  # a long non-streamed reply can take a minute or two
_TRANSPORT_ERRORS = transport_error_types()
# What `chat.completions.create` adds to every request; see `_post_completion`.
_REQUEST_OPTIONS: Any = {"security": {"bearer_auth": True}}


class OpenAIProvider:
    """One `AsyncOpenAI` client, built once and shared by every call (see `registry`)."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        name: str = "openai",
        timeout: openai.Timeout | float = DEFAULT_TIMEOUT,
        http_client: Any = None,
    ) -> None:
        # max_retries=0: Temporal's activity retry policy owns retries. SDK retries inside one
        # attempt would hide failures from the workflow history and stack two backoff policies.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout, http_client=http_client
        )
        self.name = name
        # OpenAI's newer models refuse `max_tokens`; compatible servers often know only `max_tokens`.
        self._uses_max_completion_tokens = base_url is None or "api.openai.com" in base_url

    async def aclose(self) -> None:
        """Close the connection pool (worker shutdown, tests)."""
        await self._client.close()

    async def complete(self, request: LlmRequest, on_delta: OnDelta | None = None) -> LlmResponse:
        try:
            if on_delta is None:
                completion = await self._post_completion(self._body(request))
                return _from_completion(completion, request)
            body = self._body(request, stream=True, stream_options={"include_usage": True})
            stream = await self._post_completion(body, stream=True)
            async with stream:
                return await _assemble_stream(stream, request, on_delta, self.name)
        except openai.OpenAIError as exc:
            raise _map_error(exc, self.name) from exc
        except _TRANSPORT_ERRORS as exc:
            raise ProviderUnavailable(
                f"{self.name}: connection failed mid-response: {exc!r}", provider=self.name
            ) from exc

    async def _post_completion(self, body: bytes, *, stream: bool = False) -> Any:
        """POST /chat/completions through the SDK's client with a body we encoded, skipping `create`'s transform.

        `chat.completions.create` first walks the whole body against its TypedDicts (`async_maybe_transform`)
        to rename aliased keys and drop NOT_GIVEN ones. Our body is plain JSON with none of either, and the
        walk cost grew with every message of the context: it was ~15 % of the worker's CPU per turn. The
        request, auth, timeouts, error mapping and stream decoding are the SDK's own (`AsyncOpenAI.post`).
        """
        if stream:
            return await self._client.post(
                "/chat/completions", content=body, cast_to=ChatCompletion, options=_REQUEST_OPTIONS, stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
            )  # fmt: skip
        return await self._client.post("/chat/completions", content=body, cast_to=ChatCompletion, options=_REQUEST_OPTIONS)

    async def list_model_names(self) -> list[str]:
        """Model ids the server advertises (`GET /models`), for discovery of local servers."""
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as exc:
            raise _map_error(exc, self.name) from exc
        return [model.id for model in page.data]

    def _body(self, request: LlmRequest, **extra: Any) -> bytes:
        """The request's JSON. Each message is encoded once and kept on it (`ChatMessage.derived`): the window
        cache hands the same messages to the next step, so a long conversation is not re-encoded per step."""
        messages = b",".join(_encoded(m) for m in request.messages)
        rest = _dumps({**self._params(request), **extra})  # '{"model":...}'
        return b'{"messages":[' + messages + b"]," + rest[1:]

    def _params(self, request: LlmRequest) -> dict[str, Any]:
        """Everything but the messages."""
        params: dict[str, Any] = {"model": request.model}
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            params["tool_choice"] = _tool_choice(request.tool_choice)
            params["parallel_tool_calls"] = request.parallel_tool_calls
        if request.max_tokens is not None:
            params["max_completion_tokens" if self._uses_max_completion_tokens else "max_tokens"] = (
                request.max_tokens
            )
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _dumps(value: Any) -> bytes:
    """JSON as the SDK itself sends it (openapi_dumps): compact, UTF-8, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _encoded(message: ChatMessage) -> bytes:
    wire = message.derived.get("openai")
    if wire is None:
        wire = message.derived["openai"] = _dumps(_message_param(message))
    return wire


def _message_param(message: ChatMessage) -> dict[str, Any]:
    if message.role == "assistant":
        param: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            param["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        elif message.content is None:
            param["content"] = ""
        return param
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content or ""}
    return {"role": message.role, "content": message.content or ""}


def _reasoning_of(obj: Any) -> str | None:
    """Reasoning text some compatible servers add as an extra field on the message or delta."""
    return getattr(obj, "reasoning_content", None) or getattr(obj, "reasoning", None) or None


def _normalized_finish(finish_reason: str | None, has_tool_calls: bool) -> str:
    # Ollama and some vLLM builds say "stop" even when they return tool calls.
    if has_tool_calls and finish_reason in (None, "stop"):
        return "tool_calls"
    return finish_reason or "stop"


def _usage(raw: Any, request: LlmRequest, content: str, tool_calls: list[ToolCall]) -> Usage:
    if raw is not None and raw.total_tokens:
        return Usage(raw.prompt_tokens or 0, raw.completion_tokens or 0, raw.total_tokens)
    prompt = estimate_tokens(request.messages, request.tools)  # server reported none
    completion = estimate_text_tokens(content) + sum(estimate_text_tokens(c.arguments) for c in tool_calls)
    return Usage(prompt, completion, prompt + completion)


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _from_completion(completion: Any, request: LlmRequest) -> LlmResponse:
    if not completion.choices:
        raise InvalidLlmResponse("response had no choices")
    choice = completion.choices[0]
    message = choice.message
    tool_calls = [
        ToolCall(id=c.id or _new_call_id(), name=c.function.name, arguments=c.function.arguments or "")
        for c in message.tool_calls or []
        if getattr(c, "function", None) is not None
    ]
    return LlmResponse(
        content=message.content,
        reasoning=_reasoning_of(message),
        tool_calls=tool_calls,
        finish_reason=_normalized_finish(choice.finish_reason, bool(tool_calls)),
        usage=_usage(completion.usage, request, message.content or "", tool_calls),
        model=completion.model or request.model,
    )


@dataclass
class _PartialCall:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)


async def _assemble_stream(stream: Any, request: LlmRequest, on_delta: OnDelta, provider: str) -> LlmResponse:
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, _PartialCall] = {}
    finish_reason: str | None = None
    raw_usage = None
    model = request.model
    async for chunk in stream:
        model = chunk.model or model
        if chunk.usage is not None:
            raw_usage = chunk.usage
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if thought := _reasoning_of(delta):
                reasoning.append(thought)
                await on_delta(StreamDelta(kind="reasoning", text=thought))
            if delta.content:
                content.append(delta.content)
                await on_delta(StreamDelta(kind="content", text=delta.content))
            for position, fragment in enumerate(delta.tool_calls or []):
                await _add_tool_fragment(calls, fragment, position, on_delta)
            finish_reason = choice.finish_reason or finish_reason
    if (
        finish_reason is None
    ):  # the body ended early (proxy or server died): the answer may be cut mid-argument
        raise ProviderUnavailable(f"{provider}: stream ended before the model finished", provider=provider)
    tool_calls = [ToolCall(c.id, c.name, "".join(c.fragments)) for _, c in sorted(calls.items())]
    text = "".join(content)
    return LlmResponse(
        content=text or None,
        reasoning="".join(reasoning) or None,
        tool_calls=tool_calls,
        finish_reason=_normalized_finish(finish_reason, bool(tool_calls)),
        usage=_usage(raw_usage, request, text, tool_calls),
        model=model,
    )


async def _add_tool_fragment(
    calls: dict[int, _PartialCall], fragment: Any, position: int, on_delta: OnDelta
) -> None:
    index = fragment.index if fragment.index is not None else position
    function = fragment.function
    piece = (function.arguments if function else None) or ""
    call = calls.get(index)
    if call is None:
        call = calls[index] = _PartialCall(
            id=fragment.id or _new_call_id(), name=(function.name if function else None) or ""
        )
        call.fragments.append(piece)
        await on_delta(
            StreamDelta(kind="tool_call", text=piece, index=index, tool_call_id=call.id, tool_name=call.name)
        )
        return
    if function and function.name and not call.name:
        call.name = function.name
    if piece:
        call.fragments.append(piece)
        await on_delta(StreamDelta(kind="tool_call", text=piece, index=index))


def _body_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return exc.message


def _map_error(exc: openai.OpenAIError, provider: str) -> LlmError:
    """The single place where OpenAI SDK exceptions become Engram's LLM errors."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderUnavailable(f"{provider}: request timed out", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailable(f"{provider}: cannot connect: {exc}", provider=provider)
    if isinstance(exc, openai.APIStatusError):
        message = f"{provider} returned HTTP {exc.status_code}: {_body_message(exc)}"
        return error_for_status(exc.status_code, message, provider=provider, code=exc.code)
    if isinstance(exc, openai.APIResponseValidationError):
        return InvalidLlmResponse(f"{provider}: malformed response: {exc.message}", provider=provider)
    if isinstance(exc, openai.APIError):  # an error event inside an otherwise successful stream
        message = f"{provider} stream error: {_body_message(exc)}"
        if mentions_context_overflow(exc.code, message):
            return ContextWindowExceeded(message, provider=provider)
        if "rate_limit" in f"{exc.code} {exc.type}":
            return RateLimited(message, provider=provider)
        return ProviderUnavailable(message, provider=provider)
    return ProviderRejected(f"{provider}: {exc}", provider=provider)
