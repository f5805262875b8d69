"""Server-sent events for a run: replay its event log from Postgres, then tail it (LISTEN/NOTIFY + poll).

The log (`run_events`, seq from 1) is the only source: Temporal history carries no tokens. A reader that
reconnects with `starting_after=N` gets exactly the chunks with seq > N; any number of viewers can read the
same run. Every stream ends with `data: [DONE]`, even when the run died without writing its terminal events.

Framing is Letta's: `data: <json>\\n\\n` per chunk, `event: error\\ndata: <json>\\n\\n` for a fatal error,
then `data: [DONE]\\n\\n`. Each JSON chunk carries `seq_id` (its event seq) and `run_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

log = logging.getLogger(__name__)

DONE = "data: [DONE]\n\n"
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
# SummaryMessage and EventMessage are not members of the SDK's streaming union (it would mis-parse them).
NOT_STREAMABLE = frozenset({"summary_message", "event_message"})
STOP_REASONS = frozenset({
    "end_turn", "error", "llm_api_error", "invalid_llm_response", "invalid_tool_call", "max_steps",
    "max_tokens_exceeded", "no_tool_call", "tool_rule", "cancelled", "insufficient_credits", "requires_approval",
    "context_window_overflow_in_system_prompt",
})  # fmt: skip


class EventRow(Protocol):
    seq: int
    kind: str
    payload: dict[str, Any]


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), default=str)


def data_chunk(payload: dict[str, Any]) -> str:
    return f"data: {_json(payload)}\n\n"


def error_chunk(payload: dict[str, Any]) -> str:
    return f"event: error\ndata: {_json(payload)}\n\n"


def named_chunk(event: str, payload: dict[str, Any]) -> str:
    """A named event: the SDK ignores it, other clients may use it (e.g. step_retry)."""
    return f"event: {event}\ndata: {_json(payload)}\n\n"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def ping_chunk(run_id: str, seq_id: int | None = None) -> str:
    payload: dict[str, Any] = {
        "message_type": "ping",
        "id": f"ping-{uuid.uuid4()}",
        "date": now_iso(),
        "run_id": run_id,
    }
    if seq_id:
        payload["seq_id"] = seq_id
    return data_chunk(payload)


def safe_stop_reason(value: str | None, default: str = "error") -> str:
    return value if value in STOP_REASONS else default


@dataclass
class StreamOptions:
    """What a viewer asked for: token deltas or whole messages, a message-type filter, keepalives."""

    stream_tokens: bool = False
    include_pings: bool = True
    include_types: frozenset[str] | None = None
    include_compaction_messages: bool = False
    ping_interval_s: float = 20.0
    poll_interval_s: float = 0.5
    batch_size: int = 500
    # A run that is terminal with no "done" written is finished off after this much quiet.
    terminal_grace_s: float = 1.5


@dataclass
class RenderState:
    """What the stream has emitted so far, so a synthesized ending does not repeat itself."""

    saw_stop_reason: bool = False
    saw_usage: bool = False
    saw_error: bool = False
    done: bool = False
    last_seq: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def render_event(event: EventRow, run_id: str, opts: StreamOptions, state: RenderState) -> str | None:
    """One log row -> one SSE chunk (or None when this viewer does not see it)."""
    state.last_seq = max(state.last_seq, event.seq)
    kind = event.kind
    payload = dict(event.payload or {})
    if kind == "done":
        state.done = True
        return None
    if kind in ("delta", "message", "message_final"):
        if kind == "delta" and not opts.stream_tokens:
            return None
        if kind == "message_final" and opts.stream_tokens:
            return None
        mtype = payload.get("message_type")
        if mtype in NOT_STREAMABLE and not opts.include_compaction_messages:
            return None
        if opts.include_types is not None and mtype not in opts.include_types:
            return None
        return data_chunk({**payload, "seq_id": event.seq, "run_id": payload.get("run_id") or run_id})
    if kind == "stop_reason":
        state.saw_stop_reason = True
        payload["message_type"] = "stop_reason"
        payload["stop_reason"] = safe_stop_reason(payload.get("stop_reason"))
        return data_chunk({**payload, "seq_id": event.seq, "run_id": run_id})
    if kind == "usage":
        state.saw_usage = True
        payload["message_type"] = "usage_statistics"
        payload.setdefault("run_ids", [run_id])
        return data_chunk({**payload, "seq_id": event.seq, "run_id": run_id})
    if kind == "error":
        state.saw_error = True
        payload = {
            "message_type": "error_message",
            "error_type": str(payload.get("error_type") or "internal_error"),
            "message": str(payload.get("message") or "The run failed."),
            **({"detail": str(payload["detail"])} if payload.get("detail") is not None else {}),
            "run_id": run_id,
            "seq_id": event.seq,
        }
        return error_chunk(payload)
    if kind == "step_retry":
        return named_chunk("step_retry", {**payload, "seq_id": event.seq, "run_id": run_id})
    return None


def synthesize_ending(
    run_id: str, status: str | None, stop_reason: str | None, state: RenderState
) -> list[str]:
    """The terminal chunks a run should have written but did not (it died hard): never leave a client hanging."""
    out: list[str] = []
    if not state.saw_stop_reason:
        default = "cancelled" if status == "cancelled" else ("end_turn" if status == "completed" else "error")
        out.append(data_chunk({"message_type": "stop_reason", "stop_reason": safe_stop_reason(stop_reason, default),
                               "run_id": run_id}))  # fmt: skip
    if status == "failed" and not state.saw_error:
        out.append(error_chunk({
            "message_type": "error_message", "error_type": "stream_incomplete", "run_id": run_id,
            "message": "The run ended without completing its stream.",
        }))  # fmt: skip
    out.append(DONE)
    return out


# ---- live reading --------------------------------------------------------------------------------------


HUB_LINGER_S = 30.0


class RunEventHub:
    """One LISTEN connection per process, shared by every open stream; opened on the first subscriber and
    closed `linger_s` after the last one left, so an idle server holds no extra connection while a client
    streaming turn after turn does not pay a new connection (a Postgres backend start) per turn. The app
    closes it at shutdown (`close`), so nothing outlives the app."""

    def __init__(self, libpq_url: str, channel: str, *, linger_s: float = HUB_LINGER_S) -> None:
        self._url = libpq_url
        self._channel = channel
        self._linger_s = linger_s
        self._subs: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def subscribe(self, run_id: str) -> AsyncIterator[asyncio.Event]:
        wake = asyncio.Event()
        async with self._lock:
            if self._close_timer is not None:
                self._close_timer.cancel()
                self._close_timer = None
            self._subs.setdefault(run_id, set()).add(wake)
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._listen(), name="run-events-listen")
        try:
            yield wake
        finally:
            async with self._lock:
                waiters = self._subs.get(run_id)
                if waiters is not None:
                    waiters.discard(wake)
                    if not waiters:
                        del self._subs[run_id]
                if not self._subs and self._task is not None and self._close_timer is None:
                    self._close_timer = asyncio.get_running_loop().call_later(self._linger_s, self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._close_timer = None
        if not self._subs and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """Stop listening now (app shutdown)."""
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _listen(self) -> None:
        """Wake the subscribers of a run on each NOTIFY; a lost connection only degrades readers to polling."""
        try:
            async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                await conn.execute(f'LISTEN "{self._channel}"')
                async for note in conn.notifies():
                    run_id = note.payload.split(":", 1)[0]
                    for wake in self._subs.get(run_id, ()):
                        wake.set()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - polling still delivers every event
            log.warning("run_events LISTEN connection failed; streams fall back to polling", exc_info=True)


ReadEvents = Callable[[str, int, int], Awaitable[list[Any]]]
ReadRunStatus = Callable[[str], Awaitable[tuple[str | None, str | None]]]


async def stream_run_events(
    run_id: str,
    *,
    starting_after: int,
    opts: StreamOptions,
    read_events: ReadEvents,
    read_status: ReadRunStatus,
    hub: RunEventHub | None,
    prelude: Iterable[str] = (),
    coalesce: bool = False,
) -> AsyncIterator[str]:
    """Replay `seq > starting_after`, then tail the log until `done` (or a dead run), as SSE text.

    coalesce=True yields the chunks of one read of the log as one string (the same bytes, one socket write
    instead of one per token delta; nothing waits for it: those events were all there already).
    """
    state = RenderState(last_seq=starting_after)
    for chunk in prelude:
        yield chunk
    if opts.include_pings:
        yield ping_chunk(run_id)
    subscription = hub.subscribe(run_id) if hub is not None else None
    wake = await subscription.__aenter__() if subscription is not None else asyncio.Event()
    try:
        last_output = time.monotonic()
        terminal_since: float | None = None
        while True:
            wake.clear()
            try:
                events = await read_events(run_id, state.last_seq, opts.batch_size)
                status, stop_reason = (None, None) if events else await read_status(run_id)
            except Exception as exc:
                from engram.store.outage import is_database_unavailable

                if not is_database_unavailable(exc):
                    raise
                await asyncio.sleep(opts.poll_interval_s)  # Postgres is restarting: keep the stream open
                continue
            batch: list[str] = []
            for event in events:
                chunk = render_event(event, run_id, opts, state)
                if chunk is not None:
                    batch.append(chunk)
                    last_output = time.monotonic()
                if state.done:
                    batch.append(DONE)
                    break
            if coalesce and len(batch) > 1:
                batch = ["".join(batch)]
            for chunk in batch:
                yield chunk
            if state.done:
                return
            if events:
                terminal_since = None
                if len(events) >= opts.batch_size:
                    continue
            else:
                if status in TERMINAL_STATUSES:
                    terminal_since = terminal_since or time.monotonic()
                    if time.monotonic() - terminal_since >= opts.terminal_grace_s:
                        for chunk in synthesize_ending(run_id, status, stop_reason, state):
                            yield chunk
                        return
                elif status is None:  # the run vanished (agent deleted)
                    for chunk in synthesize_ending(run_id, "failed", "error", state):
                        yield chunk
                    return
            if opts.include_pings and time.monotonic() - last_output >= opts.ping_interval_s:
                yield ping_chunk(run_id, state.last_seq or None)
                last_output = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=opts.poll_interval_s)
    finally:
        if subscription is not None:
            await subscription.__aexit__(None, None, None)


# ---- wiring to the app ---------------------------------------------------------------------------------


def get_hub(app: Any) -> RunEventHub | None:
    """The app's shared hub, created on first use (lives on `app.state`)."""
    hub = getattr(app.state, "run_event_hub", None)
    if hub is None:
        from engram.store.run_events import RUN_EVENTS_CHANNEL

        engine = getattr(app.state, "engine", None)
        if engine is None:
            return None
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        hub = RunEventHub(url, RUN_EVENTS_CHANNEL)
        app.state.run_event_hub = hub
    return hub


def log_readers(sessions: Any, org_id: str) -> tuple[ReadEvents, ReadRunStatus]:
    """Read functions that each run one statement in a short session: a long stream never holds a transaction
    open. `sessions` is best an autocommit factory (api.deps.autocommit_sessions): no BEGIN/ROLLBACK per read."""
    from engram.store import run_events as run_events_repo
    from engram.store import runs as runs_repo

    async def read_events(run_id: str, after_seq: int, limit: int) -> list[Any]:
        async with sessions() as session:
            return await run_events_repo.read_event_rows(session, run_id, after_seq, limit=limit)

    async def read_status(run_id: str) -> tuple[str | None, str | None]:
        async with sessions() as session:
            return await runs_repo.run_status(session, org_id, run_id) or (None, None)

    return read_events, read_status


def run_stream_response(
    request: Any, org_id: str, run_id: str, opts: StreamOptions, *, starting_after: int = 0
) -> Any:
    """A `text/event-stream` response tailing one run's log."""
    from fastapi.responses import StreamingResponse

    from api.deps import autocommit_sessions

    read_events, read_status = log_readers(autocommit_sessions(request.app), org_id)
    body = stream_run_events(
        run_id, starting_after=starting_after, opts=opts, read_events=read_events, read_status=read_status,
        hub=get_hub(request.app), coalesce=True,
    )  # fmt: skip
    return StreamingResponse(body, media_type="text/event-stream", headers=STREAM_HEADERS)
