"""Sleep-time activities: count a finished turn, claim a window for a scheduled wake-up, run the
background agent's turn on its own workflow, and hand the window back if that run failed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import agent_turns
from activities.contracts import (
    RUN_AGENT_TURN,
    SLEEPTIME_CLAIM,
    SLEEPTIME_FINISHED,
    SLEEPTIME_TURN_DONE,
    RunAgentTurnInput,
    RunAgentTurnOutcome,
    SleeptimeClaim,
    SleeptimeClaimInput,
    SleeptimeFinishedInput,
    SleeptimeTriggered,
    SleeptimeTurnInput,
)
from engram import sleeptime
from engram.config import Settings
from engram.store import runs
from engram.store.models import Agent

RUN_WAIT_S = 25 * 60.0  # under the activity's start-to-close timeout (workflows/sleeptime.py)


class SleeptimeActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=SLEEPTIME_TURN_DONE)
    async def sleeptime_turn_done(self, inp: SleeptimeTurnInput) -> SleeptimeTriggered:
        async with self.sessions.begin() as session:
            run_ids, helper = await sleeptime.count_turn(session, inp.org_id, inp.agent_id, inp.run_id)
            return SleeptimeTriggered(run_ids, helper)

    @activity.defn(name=SLEEPTIME_CLAIM)
    async def sleeptime_claim(self, inp: SleeptimeClaimInput) -> SleeptimeClaim:
        async with self.sessions.begin() as session:
            agent = await session.get(Agent, inp.agent_id)
            group = await sleeptime.find_group(session, inp.org_id, inp.agent_id)
            if agent is None or group is None or not agent.enable_sleeptime or agent.organization_id != inp.org_id:
                return SleeptimeClaim()
            run = await sleeptime.claim_window(session, group, run_id=inp.run_id, trigger="schedule")
            return SleeptimeClaim(run.id if run else None, group.sleeptime_agent_id)

    @activity.defn(name=RUN_AGENT_TURN)
    async def run_agent_turn(self, inp: RunAgentTurnInput) -> RunAgentTurnOutcome:
        async with self.sessions() as session:
            run = await runs.find_run(session, inp.org_id, inp.run_id)
        if run is None:
            raise ApplicationError(f"run {inp.run_id} does not exist", type="NotFound", non_retryable=True)
        if run.status not in runs.TERMINAL_STATUSES:
            try:
                await agent_turns.submit(activity.client(), self.settings, inp.org_id, inp.agent_id, inp.run_id, inp.max_steps,
                                         self.sessions)  # fmt: skip
            except agent_turns.TurnRejected as exc:
                async with self.sessions.begin() as session:
                    await runs.mark_terminal(session, inp.org_id, inp.run_id, status="failed", stop_reason="error",
                                             usage={}, error={"error_type": "rejected", "message": str(exc)})  # fmt: skip
                return RunAgentTurnOutcome("failed", "error")
            run = await agent_turns.wait_for_run(self.sessions, inp.org_id, inp.run_id, RUN_WAIT_S)
            if run is None:
                raise ApplicationError(f"run {inp.run_id} is still not finished")
        return RunAgentTurnOutcome(run.status, run.stop_reason)

    @activity.defn(name=SLEEPTIME_FINISHED)
    async def sleeptime_finished(self, inp: SleeptimeFinishedInput) -> None:
        if inp.status == "completed":
            return
        async with self.sessions.begin() as session:
            await sleeptime.release_window(session, inp.org_id, inp.run_id)
