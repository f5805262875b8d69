"""The console's pages: a static shell plus server-rendered HTML fragments behind the API-key check.

Why fragments: a browser navigation cannot carry `Authorization: Bearer`, and the console must work when
keys are configured. So `/console/...` answers the same small shell for every path (no data in it), and
console.js fetches `/console/_f/...` with the key it keeps in sessionStorage. Each fragment reads through
the repositories and wire models the REST routers use (never a copy of their logic); every write the
console makes goes to the REST API itself from console.js, so an edit in the console and one from the SDK
are the same request.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from api.auth import require_api_key
from api.deps import ActorDep, AgentDep, SessionDep, SettingsDep
from api.routes.runs import _get_run
from api.schemas.messages import RunOut
from api.schemas.models import list_models
from api.workflow_client import temporal_ui_link
from engram.context.overview import context_overview
from engram.store import agents as agent_store
from engram.store import blocks as block_store
from engram.store import passages as passage_store
from engram.store import runs as runs_repo
from engram.store import steps as steps_repo
from engram.store import tools as tool_store
from engram.store.models import Step

HERE = Path(__file__).parent
PAGE_SIZE = 50
templates = Jinja2Templates(directory=str(HERE / "templates"))

# The context bar's sections, in prompt order, with the Letta field each one reads.
CONTEXT_SECTIONS = (
    ("system", "System prompt", "num_tokens_system"),
    ("tools", "Tool definitions", "num_tokens_functions_definitions"),
    ("rules", "Tool rules", "num_tokens_tool_usage_rules"),
    ("core", "Core memory", "num_tokens_core_memory"),
    ("files", "Files", "num_tokens_directories"),
    ("meta", "Memory metadata", "num_tokens_external_memory_summary"),
    ("summary", "Summary", "num_tokens_summary_memory"),
    ("messages", "Messages", "num_tokens_messages"),
)

shell = APIRouter(include_in_schema=False)
fragments = APIRouter(prefix="/console/_f", include_in_schema=False, dependencies=[Depends(require_api_key)])


def _duration(run: Any) -> str:
    seconds: float | None = None
    if run.total_duration_ns:
        seconds = run.total_duration_ns / 1e9
    elif run.completed_at and run.created_at:
        seconds = (run.completed_at - run.created_at).total_seconds()
    if seconds is None:
        return "running" if run.status in ("created", "running") else "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


templates.env.filters["when"] = _when
templates.env.filters["duration"] = _duration


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


# ---- the shell --------------------------------------------------------------------------------------------


@shell.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@shell.get("/console")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@shell.get("/console/{path:path}")
async def console_shell(request: Request, path: str) -> Response:
    """Every console address answers the shell; console.js loads the fragment for `path`."""
    del path
    return _render(request, "shell.html")


# ---- fragments ----------------------------------------------------------------------------------------


@fragments.get("/")
@fragments.get("/agents")
async def agents_page(
    request: Request, session: SessionDep, actor: ActorDep, settings: SettingsDep, q: str | None = None,
    tag: str | None = None, after: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> HTMLResponse:  # fmt: skip
    """One page of agents, newest first, the way `GET /v1/agents` pages them (order-relative cursors)."""
    q = (q or "").strip() or None
    tags = [t.strip() for t in (tag or "").split(",") if t.strip()] or None
    rows = await agent_store.list_agents(
        session, actor.org_id, query_text=q, tags=tags, after=after, limit=limit + 1, descending=True
    )
    return _render(
        request, "agents.html", agents=rows[:limit], next_after=rows[limit - 1].id if len(rows) > limit else None,
        q=q or "", tag=tag or "", paged=after is not None, limit=limit,
        models=[m.handle for m in list_models(settings)], default_model=settings.default_model,
    )  # fmt: skip


@fragments.get("/agents/{agent_id}")
async def agent_page(request: Request, agent: AgentDep, settings: SettingsDep) -> HTMLResponse:
    return _render(request, "agent.html", agent=agent, temporal_ui=settings.temporal_ui_base.rstrip("/"),
                   namespace=settings.temporal_namespace)  # fmt: skip


@fragments.get("/agents/{agent_id}/context")
async def context_bar(
    request: Request, agent: AgentDep, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    """The bar is drawn from the same overview `GET /v1/agents/{id}/context` answers."""
    view = (await context_overview(session, actor.org_id, agent.id)).as_dict()
    size = max(view["context_window_size_max"], view["context_window_size_current"], 1)
    sections = [
        {"key": key, "label": label, "tokens": view[field], "pct": 100.0 * view[field] / size}
        for key, label, field in CONTEXT_SECTIONS
    ]
    return _render(request, "context.html", view=view, sections=sections)


@fragments.get("/agents/{agent_id}/blocks")
async def blocks_panel(
    request: Request, agent: AgentDep, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    blocks = await block_store.list_agent_blocks(session, actor.org_id, agent.id)
    shared = await _shared_block_ids(session, [b.id for b in blocks])
    return _render(request, "blocks.html", agent=agent, blocks=blocks, shared=shared)


async def _shared_block_ids(session: Any, block_ids: list[str]) -> set[str]:
    from engram.store.models import AgentBlock

    if not block_ids:
        return set()
    rows = await session.execute(
        select(AgentBlock.block_id).where(AgentBlock.block_id.in_(block_ids))
        .group_by(AgentBlock.block_id).having(func.count() > 1)
    )  # fmt: skip
    return {r[0] for r in rows}


@fragments.get("/agents/{agent_id}/runs")
async def runs_panel(
    request: Request, agent: AgentDep, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    after: str | None = None,
) -> HTMLResponse:  # fmt: skip
    runs = await runs_repo.list_runs(
        session, actor.org_id, agent_id=agent.id, after=after, limit=20, order="desc"
    )
    steps = await _step_counts(session, [r.id for r in runs])
    rows = [_run_row(r, steps.get(r.id, 0), settings) for r in runs]
    return _render(
        request, "runs.html", agent=agent, runs=rows, next_after=runs[-1].id if len(runs) == 20 else None
    )


async def _step_counts(session: Any, run_ids: list[str]) -> dict[str, int]:
    if not run_ids:
        return {}
    rows = await session.execute(
        select(Step.run_id, func.count()).where(Step.run_id.in_(run_ids)).group_by(Step.run_id)
    )
    return {run_id: int(n) for run_id, n in rows}


def _run_row(run: Any, steps: int, settings: Any) -> dict[str, Any]:
    wire = RunOut.from_domain(run, settings)
    temporal = wire.metadata.get("temporal") or {}
    usage = run.usage or {}
    return {
        "run": run, "wire": wire, "steps": steps, "tokens": int(usage.get("total_tokens") or 0),
        "duration": _duration(run), "workflow_id": temporal.get("workflow_id"), "ui_url": temporal.get("ui_url"),
    }  # fmt: skip


@fragments.get("/runs/{run_id}")
async def run_page(
    request: Request, run_id: str, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> HTMLResponse:
    run = await _get_run(session, actor.org_id, run_id)
    steps = await steps_repo.list_run_steps(session, actor.org_id, run.id)
    agent = await agent_store.get_agent(session, actor.org_id, run.agent_id)
    row = _run_row(run, len(steps), settings)
    if not row["ui_url"] and run.workflow_id:  # defensive: older rows without the metadata
        row["ui_url"] = temporal_ui_link(settings, run.workflow_id, run.temporal_run_id)
    return _render(request, "run.html", agent=agent, row=row, steps=steps)


@fragments.get("/agents/{agent_id}/archival")
async def archival_panel(
    request: Request, agent: AgentDep, session: SessionDep, actor: ActorDep, q: str | None = None,
    after: str | None = None,
) -> HTMLResponse:  # fmt: skip
    """Newest first; `q` filters by text, as `GET /v1/agents/{id}/archival-memory?search=` does."""
    rows = await passage_store.list_passages(
        session,
        actor.org_id,
        agent.id,
        after=after,
        limit=21,
        ascending=False,
        search=(q or "").strip() or None,
    )
    return _render(request, "archival.html", agent=agent, passages=rows[:20], q=q or "",
                   next_after=rows[19].id if len(rows) > 20 else None)  # fmt: skip


@fragments.get("/agents/{agent_id}/tools")
async def tools_panel(
    request: Request, agent: AgentDep, session: SessionDep, actor: ActorDep
) -> HTMLResponse:
    from engram.tools.approvals import approval_names, approval_overrides

    tools = await tool_store.list_agent_tools(session, actor.org_id, agent.id)
    rules = agent.tool_rules or []
    overrides = await approval_overrides(session, actor.org_id, agent.id)
    gated = approval_names(rules, tools, overrides, [])  # the agent loop's own rule for "this call waits"
    return _render(request, "tools.html", agent=agent, tools=tools, rules=rules, gated=gated)


@fragments.get("/whoami")
async def whoami(actor: ActorDep) -> dict[str, Any]:
    """Which organization the key in use belongs to (shown in the header)."""
    return {"organization_id": actor.org_id, "admin": actor.is_admin}
