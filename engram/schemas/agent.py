"""Domain inputs for creating and changing agents and blocks (the API converts wire models to these)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from engram.store.models.block import DEFAULT_BLOCK_LIMIT

AGENT_TYPES = (
    "memgpt_agent", "memgpt_v2_agent", "letta_v1_agent", "react_agent", "workflow_agent",
    "split_thread_agent", "sleeptime_agent", "voice_convo_agent", "voice_sleeptime_agent",
)  # fmt: skip

# Letta injects these when a persona/human block has no description.
DEFAULT_BLOCK_DESCRIPTIONS = {
    "persona": "The persona block: Stores details about your current persona, guiding how you behave and respond. "
    "This helps you to maintain consistency and personality in your interactions.",
    "human": "The human block: Stores key details about the person you are conversing with, allowing for more "
    "personalized and friend-like conversation.",
}


class BlockSpec(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    value: str = ""
    limit: int = Field(default=DEFAULT_BLOCK_LIMIT, ge=1)
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    is_template: bool = False
    template_name: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)

    def resolved_description(self) -> str | None:
        return self.description if self.description is not None else DEFAULT_BLOCK_DESCRIPTIONS.get(self.label)


class AgentSpec(BaseModel):
    """Everything needed to create an agent; blocks/tools given inline or by id/name."""

    name: str
    agent_type: str = "letta_v1_agent"
    system: str | None = None
    description: str | None = None
    model: str
    embedding: str | None = None
    context_window_limit: int | None = None
    model_settings: dict[str, Any] | None = None
    compaction_settings: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    timezone: str = "UTC"
    memory_blocks: list[BlockSpec] = Field(default_factory=list)
    block_ids: list[str] = Field(default_factory=list)
    tool_ids: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list, description="tool names to attach")
    include_base_tools: bool = True
    include_base_tool_rules: bool | None = None
    tool_rules: list[dict[str, Any]] = Field(default_factory=list)
    secrets: dict[str, Any] = Field(default_factory=dict)
    message_buffer_autoclear: bool = False
    enable_sleeptime: bool = False
    max_files_open: int | None = None
    per_file_view_window_char_limit: int | None = None
    hidden: bool | None = None
    initial_message_sequence: list[dict[str, Any]] | None = None
