"""A worker-local cache of decoded in-context rows, so a step's cost does not grow with the conversation.

Every step sends the whole in-context window to the model. Reading it back from Postgres each time means
decoding every row's JSON again (content, tool calls): at ~2,000 rows that was a quarter of the worker's
CPU and the main reason a turn got slower as history grew. Here a step reads only each row's
(position, xmin) and fetches in full just the rows this process has not seen in that version. Nothing
needs invalidating: an edited row has a new xmin, a deleted one is no longer listed, and a window moved
by compaction lists other positions. Bounded by a row budget, least recently used agents evicted first.

Next to the rows it keeps what the context compiler converted them to (`keep_converted`), so the next step
converts only appended rows and reuses the same ChatMessage objects, with what providers derived from them.
A window not used for `idle_s` (its agent went idle) is dropped by `drop_idle`, which the worker calls
periodically: an idle agent holds no memory here.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engram.store import messages as message_store
from engram.store.models import Agent

DEFAULT_MAX_ROWS = 10_000  # ~1 KB each decoded (x2-3 with their conversions): a bounded ~30 MB per worker
DEFAULT_IDLE_S = 600.0

WindowKey = tuple[str, str | None]


@dataclass
class WindowRead:
    rows: list[Any]  # as messages.in_context_chat_rows returns them, plus position and xmin
    versions: list[str]  # "position:xmin" of each row
    converted: Any  # what the compiler kept for this window at the previous step (None: nothing)


@dataclass
class _Window:
    versions: list[str]
    rows: list[Any]
    converted: Any = None
    used_at: float = field(default_factory=time.monotonic)


class WindowCache:
    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS, idle_s: float = DEFAULT_IDLE_S) -> None:
        self.max_rows = max_rows
        self.idle_s = idle_s
        self._windows: OrderedDict[WindowKey, _Window] = OrderedDict()
        self._size = 0
        self.fetched = 0  # rows read in full (what a test or a benchmark can look at)

    @property
    def rows_held(self) -> int:
        return self._size

    @property
    def windows_held(self) -> int:
        return len(self._windows)

    async def chat_rows(self, session: AsyncSession, agent: Agent, conversation_id: str | None) -> list[Any]:
        """The same rows as messages.in_context_chat_rows, in the same order."""
        return (await self.read(session, agent, conversation_id)).rows

    async def read(self, session: AsyncSession, agent: Agent, conversation_id: str | None) -> WindowRead:
        key = (agent.id, conversation_id)
        versions = await message_store.in_context_versions(session, agent, conversation_id)
        previous = self._windows.pop(key, None)
        if previous is None:
            previous = _Window([], [])
        self._size -= len(previous.rows)
        start = len(previous.versions)
        if versions[:start] == previous.versions:  # the usual step: rows were only appended
            fresh = await self._fetch(session, agent, versions[start:])
            tail = [(v, fresh[_position(v)]) for v in versions[start:] if _position(v) in fresh]
            window = _Window(previous.versions + [v for v, _ in tail], previous.rows + [r for _, r in tail])
        else:  # an edit, a delete or a moved window: reuse what is still valid, read the rest
            known = dict(zip(previous.versions, previous.rows, strict=True))
            fresh = await self._fetch(session, agent, [v for v in versions if v not in known])
            # By position: a row edited between the two reads comes back with a newer xmin; take what was read.
            found = [(v, known.get(v) or fresh.get(_position(v))) for v in versions]
            found = [(v, r) for v, r in found if r is not None]  # deleted in between: not listed next step
            window = _Window([v for v, _ in found], [r for _, r in found])
        window.converted = previous.converted
        self._windows[key] = window
        self._size += len(window.rows)
        while self._size > self.max_rows and len(self._windows) > 1:
            self._evict_oldest()
        return WindowRead(window.rows, window.versions, window.converted)

    def keep_converted(self, agent: Agent, conversation_id: str | None, converted: Any) -> None:
        window = self._windows.get((agent.id, conversation_id))
        if window is not None:
            window.converted = converted

    def drop_idle(self, now: float | None = None) -> int:
        """Forget windows unused for `idle_s`; returns how many were dropped."""
        cutoff = (time.monotonic() if now is None else now) - self.idle_s
        dropped = 0
        while self._windows and next(iter(self._windows.values())).used_at < cutoff:
            self._evict_oldest()  # least recently used first, so the first recent one ends the sweep
            dropped += 1
        return dropped

    async def _fetch(self, session: AsyncSession, agent: Agent, versions: list[str]) -> dict[int, Any]:
        rows = await message_store.chat_rows_at(session, agent.organization_id, [_position(v) for v in versions])
        self.fetched += len(rows)
        return {int(r.position): r for r in rows}

    def _evict_oldest(self) -> None:
        _, evicted = self._windows.popitem(last=False)
        self._size -= len(evicted.rows)


def _position(version: str) -> int:
    return int(version.partition(":")[0])
