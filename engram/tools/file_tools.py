"""The file tools: open_files, grep_files, semantic_search_files (Letta's arguments and result texts).

Models tuned on Letta traces read these strings, so summaries, separators and paging hints follow Letta's
`files_tool_executor`. Mistakes the model can fix (unknown file, bad regex, offset past the end) raise
ValueError, which the executor turns into Letta's standard "Error executing function ..." tool error.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any

from engram.embed.registry import resolve_embedder
from engram.files.attachment import agent_file_limits
from engram.files.view import document_lines, render_view
from engram.store import agents as agent_store
from engram.store import file_agents as open_files_store
from engram.store import files as file_store
from engram.store import folders as folder_store
from engram.store.models import FileAgent, FilePassage, Folder

if TYPE_CHECKING:
    from engram.tools.executor import ToolContext

GREP_PAGE = 20
GREP_MAX_MATCHES = 1000
MAX_PATTERN_CHARS = 1000
MAX_FILE_CHARS = 50_000_000
SEMANTIC_MAX_RESULTS = 50
SEMANTIC_LINES_PER_PASSAGE = 20
CANDIDATES = 50
RRF_K = 60
MIN_VECTOR_SIMILARITY = 0.2
_REGEX_META = set(".^$+?{}[]\\|()")


async def _rows(ctx: ToolContext) -> list[FileAgent]:
    return await open_files_store.agent_rows(ctx.session, ctx.org_id, ctx.agent_id)


def _range_text(start: int | None, end: int | None, length: int | None) -> str:
    if start is None:
        return ""
    return f" (lines {start}-{end})" if length is not None else f" (lines {start}-end)"


async def open_files(
    ctx: ToolContext, file_requests: list[dict[str, Any]], close_all_others: bool = False
) -> str:
    agent = await agent_store.get_agent(ctx.session, ctx.org_id, ctx.agent_id)
    max_open, _ = agent_file_limits(agent)
    if not file_requests:
        raise ValueError("No file requests provided. Please specify at least one file to open.")
    if len(file_requests) > max_open:
        raise ValueError(
            f"Cannot open {len(file_requests)} files: exceeds configured maximum limit of {max_open} files"
        )
    rows = {r.file_name: r for r in await _rows(ctx)}
    requested = [str((req or {}).get("file_name", "")) for req in file_requests]
    for name in requested:
        if name not in rows:
            raise ValueError(f"File '{name}' not found. Available files: {', '.join(rows) or '(none)'}")
    others_closed = []
    if close_all_others:
        for name, row in rows.items():
            if row.is_open and name not in requested:
                await open_files_store.close_row(ctx.session, row)
                others_closed.append(name)
    summaries, evicted = [], []
    for req in file_requests:
        row = rows[str(req["file_name"])]
        offset, length = req.get("offset"), req.get("length")
        file = await file_store.get_file(ctx.session, ctx.org_id, row.file_id, with_content=True)
        if file.content is None:
            raise ValueError(
                f"File {row.file_name} is still being processed ({file.processing_status}); try again shortly"
            )
        lines = document_lines(file.content, row.file_name)
        view, start, end = render_view(lines, row.file_name, _int(offset), _int(length))
        before = (row.is_open, row.start_line, row.end_line)
        evicted += await open_files_store.open_row(ctx.session, row, view, start, end, max_open)
        summary = row.file_name + _range_text(start, end, _int(length))
        if before[0] and (before[1], before[2]) != (start, end):
            summary += (
                " (previously full file)"
                if before[1] is None
                else f" (previously lines {before[1]}-{before[2]})"
            )
        summaries.append(summary)
    text = (
        f"* Opened {summaries[0]}"
        if len(summaries) == 1
        else f"* Opened {len(summaries)} files: {', '.join(summaries)}"
    )
    if others_closed:
        text += f"\nNote: Closed {len(others_closed)} file(s) due to close_all_others=True: {', '.join(others_closed)}"
    evicted = [n for n in dict.fromkeys(evicted) if n not in requested]
    if evicted:
        text += f"\nNote: Closed {len(evicted)} least recently used file(s) due to open file limit: {', '.join(evicted)}"
    return text


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _name_filter(include: str | None) -> re.Pattern[str] | None:
    if not include:
        return None
    if "*" in include and not (set(include) - {"*"}) & _REGEX_META - {"."}:
        return re.compile(fnmatch.translate(include), re.IGNORECASE)  # a glob such as '*.md'
    try:
        return re.compile(include, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"Invalid include pattern '{include}': {exc}") from None


async def grep_files(
    ctx: ToolContext,
    pattern: str,
    include: str | None = None,
    context_lines: int | None = 1,
    offset: int | None = 0,
) -> str:
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"Pattern must be between 1 and {MAX_PATTERN_CHARS} characters")
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"Invalid regex pattern '{pattern}': {exc}") from None
    names = _name_filter(include)
    rows = [r for r in await _rows(ctx) if names is None or names.search(r.file_name)]
    if not rows:
        return "No files are currently attached to search"
    around = max(0, min(int(context_lines if context_lines is not None else 1), 20))
    matches: list[tuple[str, int, list[str]]] = []  # (file name, 0-based line, the file's lines)
    hit_files: dict[str, str] = {}
    for row in rows:
        content = (await file_store.file_content(ctx.session, ctx.org_id, row.file_id))[:MAX_FILE_CHARS]
        lines = document_lines(content, row.file_name)
        for index, line in enumerate(lines):
            if regex.search(line):
                matches.append((row.file_name, index, lines))
                hit_files[row.file_name] = row.file_id
                if len(matches) >= GREP_MAX_MATCHES:
                    break
        if len(matches) >= GREP_MAX_MATCHES:
            break
    if not matches:
        return f"No matches found for pattern: '{pattern}'"
    await open_files_store.touch(ctx.session, ctx.org_id, ctx.agent_id, list(hit_files.values()))
    return _grep_report(pattern, matches, max(0, int(offset or 0)), around)


def _grep_report(pattern: str, matches: list[tuple[str, int, list[str]]], offset: int, around: int) -> str:
    total = len(matches)
    per_file: dict[str, int] = {}
    for name, _, _ in matches:
        per_file[name] = per_file.get(name, 0) + 1
    page = matches[offset : offset + GREP_PAGE]
    shown = (
        f"showing matches {offset + 1}-{offset + len(page)} of {total}"
        if page
        else f"offset {offset} is past the last match"
    )
    out = [
        f"Found {total} total matches across {len(per_file)} files ({shown})",
        "=" * 80,
        "Files with matches:",
    ]
    out += [f"  - {name}: {count} matches" for name, count in sorted(per_file.items(), key=lambda kv: -kv[1])]
    for name, index, lines in page:
        out += ["", f"=== {name}:{index + 1} ==="]
        for i in range(max(0, index - around), min(len(lines), index + around + 1)):
            out.append(f"{'> ' if i == index else '  '}{i + 1}: {lines[i]}")
    out.append("")
    if offset + GREP_PAGE < total:
        out.append(f'To see more matches, call: grep_files(pattern="{pattern}", offset={offset + GREP_PAGE})')
    else:
        out.append("No more matches to show.")
    return "\n".join(out)


async def _vector_ranked(
    ctx: ToolContext, folders: list[Folder], query: str
) -> list[tuple[FilePassage, float]]:
    """Nearest passages per embedding model in use by the folders (vectors of different models never mix)."""
    found: list[tuple[FilePassage, float]] = []
    for handle in sorted({f.embedding for f in folders}):
        try:
            embedder = resolve_embedder(handle, ctx.settings)
            [vector] = await embedder.embed([query])
        except Exception:  # noqa: BLE001 - an unusable embedder leaves full-text search
            continue
        ids = [f.id for f in folders if f.embedding == handle]
        found += await file_store.nearest_passages(
            ctx.session, ctx.org_id, ids, vector, embedding_model=embedder.handle, limit=CANDIDATES
        )
    found.sort(key=lambda pair: pair[1])
    return [(p, d) for p, d in found if 1.0 - d >= MIN_VECTOR_SIMILARITY][:CANDIDATES]


async def semantic_search_files(ctx: ToolContext, query: str, limit: int | None = 5) -> str:
    if not query or not query.strip():
        raise ValueError("query must not be empty")
    count = max(1, min(int(limit or 5), SEMANTIC_MAX_RESULTS))
    folder_ids = await folder_store.agent_folder_ids(ctx.session, ctx.org_id, ctx.agent_id)
    folders = [await folder_store.get_folder(ctx.session, ctx.org_id, f) for f in folder_ids]
    vector_hits = [p for p, _ in await _vector_ranked(ctx, folders, query)] if folders else []
    text_hits = (
        await file_store.text_ranked_passages(ctx.session, ctx.org_id, folder_ids, query, limit=CANDIDATES)
        if folders
        else []
    )
    scores: dict[str, float] = {}
    by_id: dict[str, FilePassage] = {}
    for hits in (vector_hits, text_hits):
        for rank, passage in enumerate(hits, start=1):
            by_id[passage.id] = passage
            scores[passage.id] = scores.get(passage.id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(by_id.values(), key=lambda p: (-scores[p.id], p.chunk_index))[:count]
    if not best:
        return f"No semantic matches found for query: '{query}'"
    names = {r.file_id: r.file_name for r in await _rows(ctx)}
    grouped: dict[str, list[FilePassage]] = {}
    for passage in best:
        grouped.setdefault(passage.file_id, []).append(passage)
    await open_files_store.touch(ctx.session, ctx.org_id, ctx.agent_id, list(grouped))
    files_word = "file" if len(grouped) == 1 else "files"
    head = f"Found {len(best)} semantic matches in {len(grouped)} {files_word} for query: '{query}'"
    out = [head, "=" * len(head)]
    for file_id, passages in grouped.items():
        for number, passage in enumerate(passages, start=1):
            out += ["", f"=== {names.get(file_id, file_id)} (passage #{number}) ==="]
            lines = passage.text.splitlines() or [""]
            out += [f"  {line}" for line in lines[:SEMANTIC_LINES_PER_PASSAGE]]
            if len(lines) > SEMANTIC_LINES_PER_PASSAGE:
                out.append(f"  ... [truncated {len(lines) - SEMANTIC_LINES_PER_PASSAGE} more lines]")
    return "\n".join(out)
