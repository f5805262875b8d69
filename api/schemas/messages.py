"""Wire models for sending messages, runs and steps, mirroring Letta's names (LettaRequest, Run, ...).

Request models ignore unknown fields (newer SDKs add some) and accept every field being absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from engram.config import Settings
from engram.ids import new_id

MESSAGE_TYPES = (
    "system_message", "user_message", "assistant_message", "reasoning_message", "hidden_reasoning_message",
    "tool_call_message", "tool_return_message", "approval_request_message", "approval_response_message",
    "summary_message", "event_message",
)  # fmt: skip
MessageType = Literal[
    "system_message", "user_message", "assistant_message", "reasoning_message", "hidden_reasoning_message",
    "tool_call_message", "tool_return_message", "approval_request_message", "approval_response_message",
    "summary_message", "event_message",
]  # fmt: skip
StopReasonType = Literal[
    "end_turn", "error", "llm_api_error", "invalid_llm_response", "invalid_tool_call", "max_steps",
    "max_tokens_exceeded", "no_tool_call", "tool_rule", "cancelled", "insufficient_credits", "requires_approval",
    "context_window_overflow_in_system_prompt",
]  # fmt: skip
RunStatus = Literal["created", "running", "completed", "failed", "cancelled"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ClientTool(_Lenient):
    """A tool the client executes itself; calling it pauses the run with `requires_approval`."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class MessageCreate(_Lenient):
    type: Literal["message"] | None = "message"
    role: Literal["user", "system", "assistant"]
    content: str | list[dict[str, Any]]
    name: str | None = None
    otid: str | None = None
    sender_id: str | None = None
    group_id: str | None = None
    batch_item_id: str | None = None


class ApprovalCreate(_Lenient):
    type: Literal["approval"] = "approval"
    approvals: list[dict[str, Any]] | None = None
    approve: bool | None = None
    approval_request_id: str | None = None
    reason: str | None = None
    group_id: str | None = None
    otid: str | None = None


class ToolReturnCreate(_Lenient):
    type: Literal["tool_return"] = "tool_return"
    tool_returns: list[dict[str, Any]]
    group_id: str | None = None
    otid: str | None = None


def _message_kind(raw: Any) -> str:
    """Letta fills `type` in when missing: approval if it carries approve/approval_request_id, else message."""
    if not isinstance(raw, dict):
        return str(getattr(raw, "type", None) or "message")
    kind = raw.get("type")
    if kind:
        return str(kind)
    if "tool_returns" in raw:
        return "tool_return"
    if "approve" in raw or "approval_request_id" in raw or "approvals" in raw:
        return "approval"
    return "message"


InputMessage = Annotated[
    Annotated[MessageCreate, Tag("message")]
    | Annotated[ApprovalCreate, Tag("approval")]
    | Annotated[ToolReturnCreate, Tag("tool_return")],
    Discriminator(_message_kind),
]


class LettaRequest(_Lenient):
    """Body of `POST /v1/agents/{id}/messages` (and `/async`, `/stream`)."""

    messages: list[InputMessage] | None = None
    input: str | list[dict[str, Any]] | None = None
    max_steps: int = Field(default=50, ge=1, le=10_000)
    include_return_message_types: list[MessageType] | None = None
    use_assistant_message: bool = True
    assistant_message_tool_name: str = "send_message"
    assistant_message_tool_kwarg: str = "message"
    enable_thinking: str | None = None
    client_tools: list[ClientTool] | None = None
    override_model: str | None = None
    override_system: str | None = None
    include_compaction_messages: bool = False

    @model_validator(mode="after")
    def _one_input(self) -> LettaRequest:
        if self.messages is not None and self.input is not None:
            raise ValueError("Cannot specify both 'messages' and 'input'")
        if self.messages is None and self.input is None:
            raise ValueError("Must specify either 'messages' or 'input'")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' must not be empty")
        if isinstance(self.input, str) and not self.input:
            raise ValueError("'input' must not be empty")
        return self

    def input_messages(self) -> list[dict[str, Any]]:
        """The request's messages as stored dicts: ids minted here, the client's otid kept."""
        items: list[dict[str, Any]]
        if self.input is not None:
            items = [{"type": "message", "role": "user", "content": self.input}]
        else:
            items = [m.model_dump(exclude_none=True) for m in self.messages or []]
        return [{**m, "id": new_id("message")} for m in items]

    def request_config(self) -> dict[str, Any]:
        return {
            "max_steps": self.max_steps,
            "use_assistant_message": self.use_assistant_message,
            "assistant_message_tool_name": self.assistant_message_tool_name,
            "assistant_message_tool_kwarg": self.assistant_message_tool_kwarg,
            "include_return_message_types": self.include_return_message_types,
            "client_tools": [t.model_dump(exclude_none=True) for t in self.client_tools or []] or None,
            "override_model": self.override_model,
        }


class LettaStreamingRequest(LettaRequest):
    """`streaming: true` switches `POST /messages` to SSE; the other stream keys need it (Letta answers 422)."""

    streaming: bool = False
    stream_tokens: bool = False
    include_pings: bool = True
    background: bool = False

    @model_validator(mode="after")
    def _stream_keys_need_streaming(self) -> LettaStreamingRequest:
        if not self.streaming:
            bad = [
                k for k, on in (("stream_tokens", self.stream_tokens), ("background", self.background)) if on
            ]
            if not self.include_pings:
                bad.append("include_pings=false")
            if bad:
                raise ValueError(f"{', '.join(bad)} requires streaming=true")
        return self

    def request_config(self) -> dict[str, Any]:
        # Kept so a resumed stream (`POST /v1/runs/{id}/stream`) serves the chunks the first viewer got.
        return {**super().request_config(), "stream_tokens": self.stream_tokens if self.streaming else None}


class LettaStreamRequest(LettaRequest):
    """Body of the deprecated `/messages/stream`: always streams, so the stream keys are always allowed."""

    streaming: bool = True
    stream_tokens: bool = False
    include_pings: bool = True
    background: bool = False

    def request_config(self) -> dict[str, Any]:
        return {**super().request_config(), "stream_tokens": self.stream_tokens}


class LettaAsyncRequest(LettaRequest):
    callback_url: str | None = None


class CancelRequest(_Lenient):
    run_ids: list[str] | None = None


class ResetMessagesRequest(_Lenient):
    add_default_initial_messages: bool = False


class CompactRequest(_Lenient):
    compaction_settings: dict[str, Any] | None = None


class CompactionResponse(BaseModel):
    num_messages_before: int
    num_messages_after: int
    summary: str


class RunStreamRequest(_Lenient):
    """Body of `POST /v1/runs/{id}/stream` (resume)."""

    starting_after: int = Field(default=0, ge=0)
    include_pings: bool = True
    poll_interval: float | None = Field(default=None, ge=0)
    batch_size: int | None = Field(default=None, ge=1, le=10_000)
    stream_tokens: bool | None = None


# ---- responses ------------------------------------------------------------------------------------


class StopReason(BaseModel):
    message_type: Literal["stop_reason"] = "stop_reason"
    stop_reason: StopReasonType


class UsageStatistics(BaseModel):
    message_type: Literal["usage_statistics"] = "usage_statistics"
    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    step_count: int = 0
    run_ids: list[str] | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    context_tokens: int | None = None

    @classmethod
    def from_usage(
        cls, usage: dict[str, Any] | None, *, run_id: str, step_count: int | None = None
    ) -> UsageStatistics:
        usage = dict(usage or {})
        fields = {k: usage[k] for k in cls.model_fields if k in usage and usage[k] is not None}
        fields.pop("message_type", None)
        if step_count is not None:
            fields["step_count"] = step_count
        fields.setdefault("run_ids", [run_id])
        return cls(**fields)


class LettaResponse(BaseModel):
    messages: list[dict[str, Any]]
    stop_reason: StopReason
    usage: UsageStatistics


def _known_stop_reason(value: str | None) -> str | None:
    """A stored value outside the SDK's enum would make the client mis-parse the whole object."""
    if value is None:
        return None
    return value if value in get_args(StopReasonType) else "error"


class RunRequestConfig(BaseModel):
    use_assistant_message: bool | None = None
    assistant_message_tool_name: str | None = None
    assistant_message_tool_kwarg: str | None = None
    include_return_message_types: list[str] | None = None


class RunOut(BaseModel):
    """Letta's `Run`: one user request and its outcome."""

    id: str
    agent_id: str
    status: RunStatus
    stop_reason: StopReasonType | None = None
    background: bool = False
    conversation_id: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    callback_url: str | None = None
    callback_sent_at: datetime | None = None
    callback_status_code: int | None = None
    callback_error: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    request_config: RunRequestConfig | None = None
    total_duration_ns: int | None = None
    ttft_ns: int | None = None
    base_template_id: str | None = None

    @classmethod
    def from_domain(cls, run: Any, settings: Settings | None = None) -> RunOut:
        metadata: dict[str, Any] = {"run_type": run.run_type, **(run.metadata_ or {})}
        if run.error:
            metadata["error"] = run.error
        if getattr(run, "workflow_id", None):  # which Temporal workflow ran it, so an operator can open its history
            from api.workflow_client import temporal_ui_link

            metadata["temporal"] = {"workflow_id": run.workflow_id, "run_id": run.temporal_run_id}
            if settings is not None:
                metadata["temporal"]["ui_url"] = temporal_ui_link(settings, run.workflow_id, run.temporal_run_id)
        config = run.request_config or {}
        return cls(
            id=run.id, agent_id=run.agent_id, status=run.status,
            stop_reason=_known_stop_reason(run.stop_reason),
            background=bool(run.background), conversation_id=run.conversation_id, created_at=run.created_at,
            completed_at=run.completed_at, callback_url=run.callback_url, callback_sent_at=run.callback_sent_at,
            callback_status_code=run.callback_status_code, callback_error=run.callback_error, metadata=metadata,
            request_config=RunRequestConfig.model_validate({k: config.get(k) for k in RunRequestConfig.model_fields}),
            total_duration_ns=run.total_duration_ns, ttft_ns=run.ttft_ns,
        )  # fmt: skip


class StepOut(BaseModel):
    """Letta's `Step`: one LLM call of a run."""

    id: str
    run_id: str
    agent_id: str | None = None
    model: str | None = None
    provider_name: str | None = None
    status: Literal["pending", "success", "failed", "cancelled"] | None = None
    stop_reason: StopReasonType | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    error_data: dict[str, Any] | None = None
    error_type: str | None = None
    created_at: datetime | None = None
    duration_ns: int | None = None

    @classmethod
    def from_domain(cls, step: Any) -> StepOut:
        status = step.status if step.status in ("pending", "success", "failed", "cancelled") else None
        error = step.error or None
        return cls(
            id=step.id, run_id=step.run_id, agent_id=step.agent_id, model=step.model, provider_name=step.provider,
            status=status, stop_reason=_known_stop_reason(step.stop_reason), prompt_tokens=step.prompt_tokens,
            completion_tokens=step.completion_tokens, total_tokens=step.total_tokens, error_data=error,
            error_type=(error or {}).get("type") if error else None, created_at=step.created_at,
            duration_ns=step.duration_ns,
        )  # fmt: skip


class RunUsage(BaseModel):
    completion_tokens: int = 0
    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens_details: dict[str, Any] | None = None
    prompt_tokens_details: dict[str, Any] | None = None

    @classmethod
    def from_usage(cls, usage: dict[str, Any] | None) -> RunUsage:
        usage = usage or {}
        return cls(
            completion_tokens=int(usage.get("completion_tokens") or 0),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        )
