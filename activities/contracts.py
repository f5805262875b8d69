"""Activity names and payloads shared by workflows and activities (stdlib only; importing it pulls in nothing).

Names are versioned and never renamed: a change of inputs or meaning gets a new name, and old names
stay registered while histories use them. Every payload is ids plus small flags; new fields need
defaults, because payloads recorded in histories are durable contracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BEGIN_TURN = "begin_turn.v1"
LLM_STEP = "llm_step.v1"
EXECUTE_TOOLS = "execute_tools.v1"
FINISH_TURN = "finish_turn.v1"
DELIVER_CALLBACK = "deliver_callback.v1"
SUMMARIZE = "summarize.v1"
FIND_PENDING_APPROVAL = "find_pending_approval.v1"
DENY_PENDING_APPROVAL = "deny_pending_approval.v1"
INGEST_PARSE = "ingest_parse.v1"
INGEST_CHUNK = "ingest_chunk.v1"
INGEST_EMBED = "ingest_embed.v1"
INGEST_FINISH = "ingest_finish.v1"
FIRE_SCHEDULED_MESSAGE = "fire_scheduled_message.v1"
AWAIT_RUN = "await_run.v1"
SLEEPTIME_TURN_DONE = "sleeptime_turn_done.v1"
SLEEPTIME_CLAIM = "sleeptime_claim.v1"
SLEEPTIME_FINISHED = "sleeptime_finished.v1"
RUN_AGENT_TURN = "run_agent_turn.v1"

# ApplicationError types the workflow reacts to (see activities/errors.py).
CONTEXT_WINDOW_EXCEEDED = "ContextWindowExceeded"
PAYLOAD_TOO_LARGE = "PayloadTooLarge"
NOT_FOUND = "NotFound"
LLM_ERROR_TYPES = ("ProviderRejected", "UnknownModel", "RateLimited", "ProviderUnavailable", "LlmError")
INVALID_LLM_RESPONSE = "InvalidLlmResponse"
SYSTEM_PROMPT_TOO_LARGE = "SystemPromptTooLarge"


@dataclass
class BeginTurnInput:
    org_id: str
    agent_id: str
    run_id: str
    conversation_id: str | None = None


@dataclass
class TurnStart:
    """What the loop needs to know about a run before stepping."""

    agent_type: str
    model: str
    is_already_finished: bool = False  # a run finished earlier (e.g. cancelled while queued)
    has_callback: bool = False
    has_sleeptime: bool = False  # the agent has a sleep-time agent: count the turn when it completes


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass
class LlmStepInput:
    org_id: str
    agent_id: str
    run_id: str
    step_index: int
    conversation_id: str | None = None
    # Fused turn boundaries (workflows/agent.py FUSED_TURN_PATCH): the first step begins the run itself and a
    # step that ends the turn finishes it, in the step's own transactions, instead of two local activities.
    begins_turn: bool = False
    may_finish_turn: bool = False
    usage_before: Usage | None = None  # the turn's usage of earlier steps, for the finished run's total


@dataclass
class StepOutcome:
    step_id: str
    tool_call_count: int = 0  # > 0: run execute_tools next
    keep_stepping: bool = False  # only meaningful when tool_call_count == 0
    stop_reason: str | None = None  # set when the step ends the turn without tools
    usage: Usage = field(default_factory=Usage)
    approval_call_count: int = 0  # > 0: calls wait for the client (approval / client tool): stop, do not run tools
    approval_timeout_s: float | None = None  # auto-deny after this long; None = wait until answered or cancelled
    turn_start: TurnStart | None = None  # set when the step began the turn (LlmStepInput.begins_turn)
    finished_turn: bool = False  # the step ended the turn and closed the run (LlmStepInput.may_finish_turn)


@dataclass
class ToolsInput:
    org_id: str
    agent_id: str
    run_id: str
    step_index: int
    is_last_step: bool = False
    conversation_id: str | None = None
    # An approval turn answers an earlier run's step: rows and ids stay that step's (run_id, step_index), the
    # results are tagged with and streamed to this run, and approval-marked calls follow its decisions.
    output_run_id: str | None = None


@dataclass
class ToolsOutcome:
    keep_stepping: bool
    stop_reason: str | None = None


@dataclass
class FinishTurnInput:
    org_id: str
    agent_id: str
    run_id: str
    status: str  # completed | failed | cancelled
    stop_reason: str
    step_count: int = 0
    usage: Usage = field(default_factory=Usage)
    error_type: str | None = None
    error_message: str | None = None


@dataclass
class CallbackInput:
    org_id: str
    run_id: str


@dataclass
class SummarizeInput:
    """Compact the agent's context before retrying step `step_index`; `attempt` counts compactions of the step."""

    org_id: str
    agent_id: str
    run_id: str
    step_index: int
    attempt: int = 0
    conversation_id: str | None = None


@dataclass
class SummarizeOutcome:
    num_messages_before: int
    num_messages_after: int


@dataclass
class SleeptimeTurnInput:
    """A completed turn of a primary agent, to count towards its sleep-time frequency."""

    org_id: str
    agent_id: str
    run_id: str


@dataclass
class SleeptimeTriggered:
    run_ids: list[str] = field(default_factory=list)  # sleep-time runs to start (empty: not this turn)
    sleeptime_agent_id: str | None = None


@dataclass
class SleeptimeClaimInput:
    """A scheduled sleep-time wake-up: claim the unreviewed window into run `run_id` (derived from the workflow)."""

    org_id: str
    agent_id: str
    run_id: str


@dataclass
class SleeptimeClaim:
    run_id: str | None = None  # None: nothing new to review (or sleep-time is off)
    sleeptime_agent_id: str | None = None


@dataclass
class RunAgentTurnInput:
    """Drive run `run_id` (already stored) on agent `agent_id`'s own workflow and wait until it is terminal."""

    org_id: str
    agent_id: str
    run_id: str
    max_steps: int = 10


@dataclass
class RunAgentTurnOutcome:
    status: str
    stop_reason: str | None = None


@dataclass
class SleeptimeFinishedInput:
    org_id: str
    run_id: str
    status: str


@dataclass
class FireScheduledInput:
    """Deliver one firing of a scheduled message as run `run_id` (minted by the workflow, so retries reuse it)."""

    org_id: str
    agent_id: str
    scheduled_message_id: str
    run_id: str


@dataclass
class FireOutcome:
    is_delivered: bool  # False: the scheduled message (or its agent) is gone; nothing was sent


@dataclass
class AwaitRunInput:
    org_id: str
    run_id: str


# --- file ingestion (workflows/ingest.py) ---

INVALID_INPUT = "InvalidInput"


@dataclass
class FileRef:
    org_id: str
    file_id: str


@dataclass
class ParseOutcome:
    is_parsed: bool  # False: the file was refused (status error) or is gone; nothing more to do
    pages: int = 0
    chars: int = 0


@dataclass
class ChunkOutcome:
    total_chunks: int


@dataclass
class EmbedOutcome:
    chunks_embedded: int


@dataclass
class FinishIngestInput:
    org_id: str
    file_id: str
    error_message: str | None = None  # set: the file ends in status error with this reason


# --- human approval and client-side tools (activities/approvals.py) ---


@dataclass
class PendingApprovalInput:
    """Find what an approval turn (`run_id`) answers, and check its decisions against it."""

    org_id: str
    agent_id: str
    run_id: str
    conversation_id: str | None = None


@dataclass
class PendingApprovalRef:
    """The step waiting for approval (found), or why the approval turn cannot go on (error)."""

    run_id: str | None = None
    step_index: int = 0
    error: str | None = None


@dataclass
class DenyApprovalInput:
    """Deny what step `run_id` still waits for; a no-op once answered. cause: timeout | cancel | superseded."""

    org_id: str
    agent_id: str
    run_id: str
    cause: str
    conversation_id: str | None = None
    timeout_s: float | None = None
