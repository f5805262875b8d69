"""The `summarize` activity: compaction of an agent's context window when it overflows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import SUMMARIZE, SYSTEM_PROMPT_TOO_LARGE, SummarizeInput, SummarizeOutcome
from activities.errors import to_application_error
from engram.config import Settings
from engram.context.compaction import SystemPromptTooLarge, compact


class SummarizeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=SUMMARIZE)
    async def summarize(self, inp: SummarizeInput) -> SummarizeOutcome:
        op_id = f"compact:{inp.run_id}:{inp.step_index}:{inp.attempt}"
        try:
            async with self.sessions.begin() as session:
                result = await compact(session, self.settings, inp.org_id, inp.agent_id, op_id=op_id,
                                       conversation_id=inp.conversation_id)  # fmt: skip
        except SystemPromptTooLarge as exc:
            raise ApplicationError(str(exc), type=SYSTEM_PROMPT_TOO_LARGE, non_retryable=True) from exc
        except Exception as exc:
            raise to_application_error(exc)  # noqa: B904 - the cause is chained inside
        return SummarizeOutcome(result.num_messages_before, result.num_messages_after)
