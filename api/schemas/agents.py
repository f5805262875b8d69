"""Agent wire models: `AgentState` out; `CreateAgent` / `UpdateAgent` in (letta-client 1.12.1 shapes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from api.schemas.blocks import BlockOut, CreateBlock
from api.schemas.common import Handle, Int32, LettaRequest, Tag, Timezone
from api.schemas.tools import ToolOut
from engram.schemas.agent import AgentSpec
from engram.store.models import Agent, Block, Tool


class MemoryOut(BaseModel):
    blocks: list[BlockOut]
    file_blocks: list[Any] = Field(default_factory=list)
    agent_type: str | None = None
    prompt_template: str | None = None


class AgentStateOut(BaseModel):
    """letta-client `AgentState`: every required field is always present (blocks/tools hydrated)."""

    id: str
    name: str
    agent_type: str
    system: str
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str]
    timezone: str | None = None
    model: str | None = None
    embedding: str | None = None
    llm_config: dict[str, Any]
    embedding_config: dict[str, Any] | None = None
    model_settings: dict[str, Any] | None = None
    compaction_settings: dict[str, Any] | None = None
    context_window_limit: int | None = None
    memory: MemoryOut
    blocks: list[BlockOut]
    tools: list[ToolOut]
    sources: list[Any] = Field(default_factory=list)
    tool_rules: list[dict[str, Any]] = Field(default_factory=list)
    message_ids: list[str] | None = None
    message_buffer_autoclear: bool = False
    enable_sleeptime: bool = False
    managed_group: dict[str, Any] | None = None  # the sleep-time group this agent manages (Letta ManagedGroup)
    pending_approval: dict[str, Any] | None = None  # with include=agent.pending_approval: what waits for the client
    multi_agent_group: dict[str, Any] | None = None  # deprecated Letta alias of managed_group
    identities: list[Any] = Field(default_factory=list)
    identity_ids: list[str] = Field(default_factory=list)
    secrets: list[dict[str, Any]] = Field(default_factory=list)
    tool_exec_environment_variables: list[dict[str, Any]] = Field(default_factory=list)
    max_files_open: int | None = None
    per_file_view_window_char_limit: int | None = None
    hidden: bool | None = None
    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = None
    last_stop_reason: str | None = None
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_domain(cls, agent: Agent, blocks: list[Block], tools: list[Tool]) -> AgentStateOut:
        block_out = [BlockOut.from_domain(b) for b in blocks]
        env = [{"agent_id": agent.id, "key": k, "value": str(v)} for k, v in (agent.secrets or {}).items()]
        return cls(
            id=agent.id, name=agent.name, agent_type=agent.agent_type, system=agent.system,
            description=agent.description, metadata=agent.metadata_, tags=list(agent.tags or []),
            timezone=agent.timezone, model=agent.model, embedding=agent.embedding, llm_config=agent.llm_config,
            embedding_config=agent.embedding_config, model_settings=agent.model_settings,
            compaction_settings=agent.compaction_settings, context_window_limit=agent.context_window_limit,
            memory=MemoryOut(blocks=block_out, agent_type=agent.agent_type), blocks=block_out,
            tools=[ToolOut.from_domain(t) for t in tools], tool_rules=list(agent.tool_rules or []),
            message_buffer_autoclear=agent.message_buffer_autoclear, enable_sleeptime=agent.enable_sleeptime,
            secrets=env, tool_exec_environment_variables=env, max_files_open=agent.max_files_open,
            per_file_view_window_char_limit=agent.per_file_view_window_char_limit, hidden=agent.hidden,
            last_run_completion=agent.last_run_completion, last_run_duration_ms=agent.last_run_duration_ms,
            last_stop_reason=agent.last_stop_reason, created_at=agent.created_at, updated_at=agent.updated_at,
        )  # fmt: skip


# Letta's ToolRuleType values; a rule of another type would be silently ignored by the loop.
TOOL_RULE_TYPES = ("run_first", "exit_loop", "continue_loop", "conditional", "constrain_child_tools",
                   "max_count_per_step", "parent_last_tool", "required_before_exit", "requires_approval")  # fmt: skip


def _valid_rules(rules: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    for rule in rules or []:
        if rule.get("type") not in TOOL_RULE_TYPES:
            raise ValueError(
                f"tool rule type must be one of {', '.join(TOOL_RULE_TYPES)}, got {rule.get('type')!r}"
            )
        if not isinstance(rule.get("tool_name"), str) or not rule["tool_name"]:
            raise ValueError(f"tool rule {rule!r} needs a tool_name")
    return rules


ToolRules = Annotated[list[dict[str, Any]] | None, AfterValidator(_valid_rules)]


def _handle_from_config(config: dict[str, Any] | None) -> str | None:
    """Deprecated full configs (`llm_config` / `embedding_config`) name their model by handle."""
    if not config:
        return None
    handle = config.get("handle")
    return handle if isinstance(handle, str) and handle else None


def _secrets(secrets: dict[str, Any] | list[Any] | None) -> dict[str, Any]:
    if isinstance(secrets, list):  # [{key, value}] as AgentState shows them
        return {s["key"]: s.get("value", "") for s in secrets if isinstance(s, dict) and "key" in s}
    return dict(secrets or {})


class _AgentFields(LettaRequest):
    """Fields create and update share (Letta's CreateAgent / UpdateAgent bodies)."""

    name: str | None = Field(default=None, min_length=1, max_length=500)
    system: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = None
    timezone: Timezone = None
    model: Handle | None = None
    embedding: Handle | None = None
    model_settings: dict[str, Any] | None = None
    context_window_limit: Int32 | None = None
    compaction_settings: dict[str, Any] | None = None
    llm_config: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    block_ids: list[str] | None = None
    tool_ids: list[str] | None = None
    tool_rules: ToolRules = None
    message_buffer_autoclear: bool | None = None
    enable_sleeptime: bool | None = None
    secrets: dict[str, Any] | list[Any] | None = None
    tool_exec_environment_variables: dict[str, Any] | list[Any] | None = None
    max_files_open: Int32 | None = None
    per_file_view_window_char_limit: Int32 | None = None
    hidden: bool | None = None
    folder_ids: list[str] | None = None
    source_ids: list[str] | None = None  # Letta's older name for folder_ids

    def sent_folder_ids(self) -> list[str] | None:
        """The folders the agent should have, when the caller said (attached as `agents.folders.attach` does)."""
        return self.folder_ids if self.folder_ids is not None else self.source_ids


class CreateAgent(_AgentFields):
    agent_type: str = Field(default="letta_v1_agent", max_length=64)
    memory_blocks: list[CreateBlock] | None = None
    tools: list[str] | None = None
    include_base_tools: bool | None = None
    include_base_tool_rules: bool | None = None
    initial_message_sequence: list[dict[str, Any]] | None = None

    def model_handle(self, default: str) -> str:
        return self.model or _handle_from_config(self.llm_config) or default

    def embedding_handle(self, default: str) -> str:
        return self.embedding or _handle_from_config(self.embedding_config) or default

    def to_domain(self, *, model: str, embedding: str) -> AgentSpec:
        return AgentSpec(
            name=self.name or f"agent-{uuid.uuid4().hex[:8]}", agent_type=self.agent_type, system=self.system,
            description=self.description, model=model, embedding=embedding,
            context_window_limit=self.context_window_limit, model_settings=self.model_settings,
            compaction_settings=self.compaction_settings, tags=self.tags or [], metadata=self.metadata,
            timezone=self.timezone or "UTC", memory_blocks=[b.to_domain() for b in self.memory_blocks or []],
            block_ids=self.block_ids or [], tool_ids=self.tool_ids or [], tools=self.tools or [],
            include_base_tools=True if self.include_base_tools is None else self.include_base_tools,
            include_base_tool_rules=self.include_base_tool_rules, tool_rules=self.tool_rules or [],
            secrets=_secrets(self.secrets if self.secrets is not None else self.tool_exec_environment_variables),
            message_buffer_autoclear=bool(self.message_buffer_autoclear), enable_sleeptime=bool(self.enable_sleeptime),
            max_files_open=self.max_files_open, per_file_view_window_char_limit=self.per_file_view_window_char_limit,
            hidden=self.hidden, initial_message_sequence=self.initial_message_sequence,
        )  # fmt: skip


class UpdateAgent(_AgentFields):
    agent_type: str | None = Field(default=None, max_length=64)
    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = None
    last_stop_reason: str | None = Field(default=None, max_length=64)

    def new_model_handle(self) -> str | None:
        return self.model or _handle_from_config(self.llm_config)

    def new_embedding_handle(self) -> str | None:
        return self.embedding or _handle_from_config(self.embedding_config)

    def to_changes(self) -> dict[str, Any]:
        """Column changes for the fields the caller sent (model/embedding are resolved by the route)."""
        sent = self.model_dump(exclude_unset=True)
        changes = {
            k: sent[k] for k in _UPDATE_COLUMNS if k in sent and (sent[k] is not None or k in _NULLABLE)
        }
        if "metadata" in sent:
            changes["metadata_"] = sent["metadata"]
        secrets = sent.get("secrets", sent.get("tool_exec_environment_variables"))
        if secrets is not None:
            changes["secrets"] = _secrets(secrets)
        return changes


_UPDATE_COLUMNS = (
    "name", "agent_type", "system", "description", "tags", "timezone", "model_settings",
    "context_window_limit", "compaction_settings", "block_ids", "tool_ids", "tool_rules",
    "message_buffer_autoclear", "enable_sleeptime", "max_files_open", "per_file_view_window_char_limit",
    "hidden", "last_run_completion", "last_run_duration_ms", "last_stop_reason",
)  # fmt: skip
_NULLABLE = {"description", "model_settings", "context_window_limit", "compaction_settings", "max_files_open",
             "per_file_view_window_char_limit", "hidden"}  # fmt: skip


class ImportResponse(BaseModel):
    agent_ids: list[str]
