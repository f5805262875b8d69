"""Temporal worker: AgentWorkflow plus every activity, on `settings.task_queue`.

`main()` reads Settings from the environment and runs until SIGINT/SIGTERM. It ends with
`os._exit`, because temporalio's core can crash the interpreter at exit (sdk-python#300), or, when an
idle worker grew past ENGRAM_WORKER_RECYCLE_MB, by exec'ing itself afresh (engram/runtime/recycle.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.activity_clock import ActivityClock
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
from engram.runtime.recycle import RecyclePolicy, reexec, rss_mb, wait_until_recycle_due
from workflows.agent import AgentWorkflow
from workflows.ingest import FileIngestWorkflow
from workflows.scheduled_message import ScheduledMessageWorkflow
from workflows.sleeptime import SleeptimeWorkflow

PASSTHROUGH_MODULES = ("activities", "workflows", "engram")
log = logging.getLogger("worker")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES))


def build_worker(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    windows: WindowCache | None = None,
    clock: ActivityClock | None = None,
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
        # A Postgres restart must not spend retry budgets; the clock tells the recycle check the worker is idle.
        interceptors=[DatabaseOutageInterceptor(), *([clock] if clock is not None else [])],
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


async def serve(settings: Settings) -> bool:
    """Run until SIGINT/SIGTERM (False) or until the recycle policy says to start afresh (True)."""
    from engram.store.db import create_engine, quiet_for, session_factory

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
    policy, clock = RecyclePolicy(settings.worker_recycle_mb, settings.worker_recycle_idle_s), ActivityClock()
    tasks = [housekeeping, stopped := asyncio.create_task(stop.wait())]
    try:
        await reconcile_schedules(schedule_client(client, settings.task_queue, settings), sessions)
        await reconcile_sleeptime_schedules(client, settings, sessions)
        async with build_worker(client, settings, sessions, windows, clock):
            # Growth is measured from here: the worker is built and polling, nothing has run yet.
            def idle_for() -> float:  # a worker that has run nothing since it started has nothing to give back
                return min(clock.quiet_for(), quiet_for(engine)) if clock.ran else 0.0

            start_mb = rss_mb()
            log.info("polling task queue %r (pid %d, RSS %.0f MB)", settings.task_queue, os.getpid(), start_mb)
            tasks.append(recycle := asyncio.create_task(wait_until_recycle_due(idle_for, policy, start_mb=start_mb)))
            await asyncio.wait({recycle, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if recycle.done() and not stopped.done():
                log.warning("recycling in place: %s", recycle.result())
                return True
        return False
    finally:
        for task in tasks:
            task.cancel()
        await engine.dispose()


def _log_to_stderr() -> None:
    """The worker's own lines (start, recycle) go to its log whatever the root logger is set to."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s worker: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def main() -> None:
    _log_to_stderr()
    code = 0
    try:
        if asyncio.run(serve(Settings())):
            reexec()  # the worker above has shut down cleanly; no return
    except KeyboardInterrupt:
        pass
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    os._exit(code)


if __name__ == "__main__":
    main()
