"""Engram settings: one pydantic-settings class, read from ENGRAM_* variables and `.env`.

Tests and the CLI build `Settings(...)` explicitly instead of editing the environment.
Provider keys keep their conventional names (OPENAI_API_KEY, ...) so existing setups work.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_PORT = 8283  # Letta's port, so letta-client's "local" environment points at us
DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_TEMPORAL_UI_PORT = 8233


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGRAM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path(".engram"), description="Embedded Postgres data, Temporal SQLite file, logs")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL (postgresql+psycopg://...); unset = embedded Postgres in data_dir"
    )
    temporal_address: str | None = Field(default=None, description="host:port of Temporal; unset = embedded dev server")
    temporal_namespace: str = "default"
    temporal_port: int = Field(default=DEFAULT_TEMPORAL_PORT, description="gRPC port of the embedded dev server")
    temporal_ui_port: int = Field(default=DEFAULT_TEMPORAL_UI_PORT, description="Web UI port of the embedded dev server")
    temporal_ui_url: str | None = Field(default=None, description="Temporal Web UI base URL for deep links")
    task_queue: str = Field(default="engram", description="Task queue for workflows and activities")

    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    api_key: SecretStr | None = Field(default=None, description="Single-tenant bearer key; unset = no auth, loopback only")
    admin_key: SecretStr | None = Field(
        default=None, description="Multi-tenant mode: this key manages organizations and their API keys"
    )

    default_model: str = Field(default="engram/offline", description="Model handle used when an agent names none")
    default_embedding: str = Field(default="engram/hash-embedding", description="Embedding handle used when none given")
    idle_timeout_s: float = Field(default=1800.0, description="AgentWorkflow exits after this long with nothing to do")
    max_pending_turns: int = 32
    workflow_cache_size: int = Field(
        default=100, ge=1,
        description="Agent workflows a worker keeps in memory; an evicted idle one is replayed from history when it "
        "next wakes (Temporal's max_cached_workflows, default 1000: ~125 KB each, held while agents sit idle)",
    )  # fmt: skip
    worker_recycle_mb: float = Field(
        default=48.0, ge=0,
        description="A worker idle for worker_recycle_idle_s whose RSS grew more than this since it started "
        "restarts itself in place to hand back fragmented heap; 0 = never",
    )  # fmt: skip
    worker_recycle_idle_s: float = Field(
        default=300.0, gt=0, description="How long a worker must have had nothing to do before it may recycle"
    )
    approval_timeout_s: float | None = Field(
        default=None, description="Auto-deny a tool call waiting for approval after this long; unset = wait until answered"
    )
    max_request_bytes: int = Field(default=5_000_000, description="Largest JSON request body; bigger is a 413")
    max_upload_bytes: int = Field(default=50_000_000, description="Largest upload (.af import, files); bigger is a 413")
    max_messages_per_request: int = Field(default=100, description="Input messages per send; more is a 422")
    max_message_chars: int = Field(default=1_000_000, description="Text of one input message; more is a 413")
    max_schedules_per_agent: int = Field(default=100, description="Scheduled messages one agent may have; more is a 409")
    schedule_catchup_window_s: float = Field(
        default=3600.0, description="A firing missed by an outage shorter than this is still delivered"
    )
    file_embed_batch_size: int = Field(default=32, description="Chunks embedded per batch when ingesting a file")
    file_embed_batch_pause_s: float = Field(
        default=0.0, description="Pause between embedding batches (rate-limits a hosted embedder); 0 = none"
    )

    tool_timeout_s: float = Field(
        default=300.0, description="Wall-clock limit of one custom Python tool call (a tool's own timeout wins)"
    )
    sandbox_memory_mb: int = Field(default=1024, description="Address-space limit (RLIMIT_AS) of a tool process")
    sandbox_user: str | None = Field(
        default="nobody", description="As root: run tools as this user when it can start the interpreter"
    )
    sandbox_network: bool = Field(default=True, description="Tools may open network connections (false = own empty netns)")
    sandbox_dir: Path | None = Field(default=None, description="Parent of per-call scratch dirs; unset = system temp")
    mcp_connect_timeout_s: float = Field(default=15.0, description="Connecting to / listing an MCP server")
    mcp_call_timeout_s: float = Field(default=120.0, description="One MCP tool call (a tool's own timeout wins)")

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "ENGRAM_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "ENGRAM_OPENAI_BASE_URL")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "ENGRAM_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "ENGRAM_ANTHROPIC_BASE_URL")
    )

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir.resolve() / "pgdata"

    @property
    def temporal_db_file(self) -> Path:
        return self.data_dir.resolve() / "temporal.db"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def temporal_ui_base(self) -> str:
        return self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"
