"""`/v1/runs`: list, retrieve, a run's messages, steps and usage, and resuming any run's stream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from api.deps import ActorDep, SessionDep, SettingsDep
from api.routes.messages import expand_rows
from api.schemas.messages import RunOut, RunStreamRequest, RunUsage, StepOut
from api.sse import StreamOptions, run_stream_response
from engram.errors import InvalidInput
from engram.ids import is_valid_id

router = APIRouter(prefix="/runs", tags=["runs"])

ACTIVE = ("created", "running")


def check_run_id(run_id: str) -> str:
    if not is_valid_id(run_id, "run"):
        raise InvalidInput(f"run_id {run_id!r} is not a valid id (expected 'run-<uuid4>')")
    return run_id


async def _get_run(session: Any, org_id: str, run_id: str) -> Any:
    from engram.errors import NotFound
    from engram.store import runs as runs_repo

    check_run_id(run_id)
    run = await runs_repo.get_run(session, org_id, run_id)
    if run is None:
        raise NotFound("run", run_id)
    return run


@router.get("/", response_model=list[RunOut], summary="List runs (newest first by default)")
@router.get("", response_model=list[RunOut], include_in_schema=False)
async def list_runs(
    session: SessionDep, actor: ActorDep, settings: SettingsDep,
    agent_id: str | None = None, agent_ids: Annotated[list[str] | None, Query()] = None,
    conversation_id: str | None = None, statuses: Annotated[list[str] | None, Query()] = None,
    stop_reason: str | None = None, background: bool | None = None, active: bool = False,
    after: str | None = None, before: str | None = None, limit: Annotated[int | None, Query(ge=1, le=1000)] = 100,
    order: Literal["asc", "desc"] = "desc", order_by: Literal["created_at"] = "created_at",  # noqa: ARG001 - accepted for Letta parity
    ascending: bool | None = None,
) -> list[RunOut]:  # fmt: skip
    """Filters the repository does not know (several agents, background, stop reason, conversation) are applied
    while paging, and pages are refilled, so a filtered page is never empty while matches remain (an empty page
    ends the SDK's auto-pagination)."""
    from engram.store import runs as runs_repo

    if ascending is not None and order == "desc":
        order = "asc" if ascending else "desc"
    wanted_statuses = list(statuses) if statuses else None
    if active:
        wanted_statuses = [s for s in (wanted_statuses or ACTIVE) if s in ACTIVE]
    agents = set(agent_ids or [])
    single_agent = agent_id or (next(iter(agents)) if len(agents) == 1 else None)

    def keep(run: Any) -> bool:
        return (
            (not agents or run.agent_id in agents or run.agent_id == agent_id)
            and (background is None or bool(run.background) == background)
            and (stop_reason is None or run.stop_reason == stop_reason)
            and (conversation_id is None or run.conversation_id == conversation_id)
        )

    want = limit or 100
    page: list[Any] = []
    cursor_after, cursor_before = after, before
    while len(page) < want:
        batch = await runs_repo.list_runs(
            session, actor.org_id, agent_id=single_agent, statuses=wanted_statuses, after=cursor_after,
            before=cursor_before, limit=want, order=order,
        )  # fmt: skip
        if not batch:
            break
        page.extend(r for r in batch if keep(r))
        if len(batch) < want:
            break
        if cursor_before is not None and cursor_after is None:
            cursor_before = batch[0].id
        else:
            cursor_after = batch[-1].id
    return [RunOut.from_domain(r, settings) for r in page[:want]]


@router.get("/{run_id}", response_model=RunOut, summary="Retrieve a run")
async def retrieve_run(run_id: str, session: SessionDep, actor: ActorDep, settings: SettingsDep) -> RunOut:
    return RunOut.from_domain(await _get_run(session, actor.org_id, run_id), settings)


@router.get("/{run_id}/messages", summary="The messages of a run (oldest first by default)")
async def list_run_messages(
    run_id: str, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = 100, order: Literal["asc", "desc"] = "asc",
    order_by: Literal["created_at"] = "created_at",  # noqa: ARG001 - accepted for Letta parity
) -> list[dict[str, Any]]:  # fmt: skip
    from engram.store import messages as messages_repo

    run = await _get_run(session, actor.org_id, run_id)
    rows = await messages_repo.list_messages(
        session, actor.org_id, run.agent_id, after=after, before=before, limit=limit or 100, order=order, run_id=run.id,
    )  # fmt: skip
    return expand_rows(rows, run.request_config or {}, reverse=order == "desc")


@router.get("/{run_id}/steps", response_model=list[StepOut], summary="The steps (LLM calls) of a run")
async def list_run_steps(
    run_id: str, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = 100, order: Literal["asc", "desc"] = "asc",
    order_by: Literal["created_at"] = "created_at",  # noqa: ARG001 - accepted for Letta parity
) -> list[StepOut]:  # fmt: skip
    from engram.store import steps as steps_repo

    run = await _get_run(session, actor.org_id, run_id)
    steps = await steps_repo.list_run_steps(
        session, actor.org_id, run.id
    )  # a run has few steps: page in memory
    if order == "desc":
        steps.reverse()
    ids = [s.id for s in steps]
    if after is not None:
        steps = steps[ids.index(after) + 1 :] if after in ids else []
    if before is not None:
        cut = [s.id for s in steps]
        steps = steps[: cut.index(before)] if before in cut else []
        steps = steps[-(limit or 100) :] if after is None else steps
    return [StepOut.from_domain(s) for s in steps[: limit or 100]]


@router.get("/{run_id}/usage", response_model=RunUsage, summary="Token usage of a run")
async def retrieve_run_usage(run_id: str, session: SessionDep, actor: ActorDep) -> RunUsage:
    run = await _get_run(session, actor.org_id, run_id)
    return RunUsage.from_usage(run.usage)


@router.post("/{run_id}/stream", summary="Stream a run's chunks after `starting_after` (replay, then live)")
async def stream_run(
    request: Request, run_id: str, session: SessionDep, actor: ActorDep,
    body: Annotated[RunStreamRequest | None, Body()] = None,
) -> Response:  # fmt: skip
    """Works for every run, background or not, for as long as its event log is kept."""
    run = await _get_run(session, actor.org_id, run_id)
    body = body or RunStreamRequest()
    config = run.request_config or {}
    types = config.get("include_return_message_types")
    opts = StreamOptions(
        stream_tokens=bool(config.get("stream_tokens")) if body.stream_tokens is None else body.stream_tokens,
        include_pings=body.include_pings, include_types=frozenset(types) if types else None,
        poll_interval_s=min(max(body.poll_interval or 0.5, 0.05), 2.0), batch_size=body.batch_size or 500,
    )  # fmt: skip
    return run_stream_response(request, actor.org_id, run.id, opts, starting_after=body.starting_after)
