"""A worker-local cache of decoded in-context rows, so a step's cost does not grow with the conversation.

Every step sends the whole in-context window to the model. Reading it back from Postgres each time means
decoding every row's JSON again (content, tool calls): at ~2,000 rows that was a quarter of the worker's
CPU and the main reason a turn got slower as history grew. Here a step reads only each row's
(position, xmin) and fetches in full just the rows this process has not seen in that version. Nothing
needs invalidating: an edited row has a new xmin, a deleted one is no longer listed, and a window moved
by compaction lists other positions. Bounded by a row budget, least recently used agents evicted first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engram.store import messages as message_store
from engram.store.models import Agent

DEFAULT_MAX_ROWS = 10_000  # ~1 KB each decoded: a bounded ~10 MB per worker


class WindowCache:
    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._windows: OrderedDict[tuple[str, str | None], dict[tuple[int, str], Any]] = OrderedDict()
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
        key = (agent.id, conversation_id)
        versions = [(int(p), x) for p, x in await message_store.in_context_versions(session, agent, conversation_id)]
        known = self._windows.pop(key, {})
        self._size -= len(known)
        missing = [p for p, x in versions if (p, x) not in known]
        fetched = await message_store.chat_rows_at(session, agent.organization_id, missing)
        self.fetched += len(fetched)
        # By position: a row edited between the two reads comes back with a newer xmin; take what was read.
        fresh = {int(r.position): r for r in fetched}
        rows, window = [], {}
        for version in versions:
            row = known.get(version) or fresh.get(version[0])
            if row is None:
                continue  # deleted in between; the next step will not list it either
            rows.append(row)
            window[version] = row
        self._windows[key] = window
        self._size += len(window)
        while self._size > self.max_rows and len(self._windows) > 1:
            _, evicted = self._windows.popitem(last=False)
            self._size -= len(evicted)
        return rows
