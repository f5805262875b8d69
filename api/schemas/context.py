"""`ContextWindowOverview` wire model (Letta `schemas/memory.py`; letta-client 1.12.1 has no method or type for it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from engram.context.overview import ContextOverview


class ContextWindowOverview(BaseModel):
    context_window_size_max: int
    context_window_size_current: int
    num_messages: int
    num_archival_memory: int
    num_recall_memory: int
    num_tokens_external_memory_summary: int
    external_memory_summary: str
    num_tokens_system: int
    system_prompt: str
    num_tokens_core_memory: int
    core_memory: str
    num_tokens_memory_filesystem: int = 0
    memory_filesystem: str | None = None
    num_tokens_tool_usage_rules: int = 0
    tool_usage_rules: str | None = None
    num_tokens_directories: int = 0
    directories: str | None = None
    num_tokens_summary_memory: int
    summary_memory: str | None = None
    num_tokens_functions_definitions: int
    functions_definitions: list[dict[str, Any]] | None = None
    num_tokens_messages: int
    messages: list[dict[str, Any]]

    @classmethod
    def from_domain(cls, overview: ContextOverview) -> ContextWindowOverview:
        return cls.model_validate(overview.as_dict())
