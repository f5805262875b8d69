"""Temporal worker: AgentWorkflow plus every activity, on `settings.task_queue`.

`main()` reads Settings from the environment and runs until SIGINT/SIGTERM. It ends with
`os._exit`, because temporalio's core can crash the interpreter at exit (sdk-python#300).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.approvals import ApprovalActivities
from activities.db_outage import DatabaseOutageInterceptor
from activities.ingest import IngestActivities
from activities.llm import LlmActivities
from activities.schedules import ScheduleActivities, reconcile_schedules, schedule_client
from activities.sleeptime import SleeptimeActivities
from activities.summarize import SummarizeActivities
from activities.tools import ToolActivities
from activities.turns import TurnActivities
from engram.config import Settings
from engram.context.window_cache import WindowCache
from engram.runtime.housekeeping import keep_lean
from workflows.agent import AgentWorkflow
from workflows.ingest import FileIngestWorkflow
from workflows.scheduled_message import ScheduledMessageWorkflow
from workflows.sleeptime import SleeptimeWorkflow

PASSTHROUGH_MODULES = ("activities", "workflows", "engram")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES))


def build_worker(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], windows: WindowCache | None = None
) -> Worker:
    llm = LlmActivities(sessions, settings, windows)
    tools = ToolActivities(sessions, settings)
    turns = TurnActivities(sessions)
    summarize = SummarizeActivities(sessions, settings)
    schedules = ScheduleActivities(sessions, settings)
    sleeptime = SleeptimeActivities(sessions, settings)
    ingest = IngestActivities(sessions, settings)
    approvals = ApprovalActivities(sessions)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[AgentWorkflow, ScheduledMessageWorkflow, SleeptimeWorkflow, FileIngestWorkflow],
        activities=[llm.llm_step, tools.execute_tools, turns.begin_turn, turns.finish_turn, turns.deliver_callback,
                    summarize.summarize, schedules.fire_scheduled_message, schedules.await_run,
                    sleeptime.sleeptime_turn_done, sleeptime.sleeptime_claim, sleeptime.run_agent_turn,
                    sleeptime.sleeptime_finished, ingest.parse, ingest.chunk, ingest.embed, ingest.finish,
                    approvals.find_pending_approval, approvals.deny_pending_approval],
        workflow_runner=workflow_runner(),
        interceptors=[DatabaseOutageInterceptor()],  # a Postgres restart must not spend retry budgets
        max_concurrent_activities=200,
        max_cached_workflows=settings.workflow_cache_size,
        # Cancellation reaches an activity only in a heartbeat response; the default throttle (0.8 x the
        # heartbeat timeout) would delay a user's cancel by ~24 s.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )


async def reconcile_sleeptime_schedules(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Re-create sleep-time schedules that Postgres has and Temporal lost (never fatal)."""
    from api.sleeptime_schedules import reconcile_schedules

    try:
        await reconcile_schedules(client, settings, sessions)
    except Exception as exc:  # noqa: BLE001 - the worker must start even if Temporal's schedule API hiccups
        import logging

        logging.getLogger(__name__).warning("sleep-time schedule reconcile failed: %s", exc)


async def connect(settings: Settings) -> Client:
    from temporalio.contrib.pydantic import pydantic_data_converter

    return await Client.connect(
        settings.temporal_target, namespace=settings.temporal_namespace, data_converter=pydantic_data_converter
    )


async def serve(settings: Settings) -> None:
    from engram.store.db import create_engine, session_factory

    engine = create_engine(settings.database_url or "")
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sessions = session_factory(engine)
    # An agent idle past its workflow's timeout keeps no window here either.
    windows = WindowCache(idle_s=settings.idle_timeout_s)
    housekeeping = asyncio.create_task(keep_lean(engine, [windows]))
    try:
        await reconcile_schedules(schedule_client(client, settings.task_queue, settings), sessions)
        await reconcile_sleeptime_schedules(client, settings, sessions)
        async with build_worker(client, settings, sessions, windows):
            await stop.wait()
    finally:
        housekeeping.cancel()
        await engine.dispose()


def main() -> None:
    code = 0
    try:
        asyncio.run(serve(Settings()))
    except KeyboardInterrupt:
        pass
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


if __name__ == "__main__":
    main()
