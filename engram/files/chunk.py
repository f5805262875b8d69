"""A document's text -> overlapping chunks for embedding, sized like Letta's splitters.

Letta uses LlamaIndex splitters with the folder's `embedding_chunk_size` (300 tokens) and 50 tokens of
overlap. Here tokens are counted as 4 characters (the estimate used across Engram); units are sentences
for prose, lines for tabular/structured text and code, and markdown is split at headings first so a chunk
does not straddle two sections. The result is a pure function of the text, so a retried ingestion makes
the same chunks in the same order (chunk ids derive from the index).
"""

from __future__ import annotations

import re

CHARS_PER_TOKEN = 4
DEFAULT_CHUNK_TOKENS = 300
DEFAULT_OVERLAP_TOKENS = 50
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)
LINE_UNIT_TYPES = ("text/csv", "text/tab-separated-values", "application/json", "application/jsonl")


def chunk_document(
    text: str, media_type: str, *, chunk_tokens: int = DEFAULT_CHUNK_TOKENS, overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    is_code: bool = False,
) -> list[str]:  # fmt: skip
    """Non-blank chunks of at most `chunk_tokens` (estimated), consecutive ones sharing ~`overlap_tokens`."""
    limit = max(50, chunk_tokens * CHARS_PER_TOKEN)
    overlap = max(0, min(overlap_tokens * CHARS_PER_TOKEN, limit // 2))
    by_lines = is_code or media_type in LINE_UNIT_TYPES
    sections = _markdown_sections(text) if media_type == "text/markdown" else [text]
    chunks: list[str] = []
    for section in sections:
        units = _line_units(section) if by_lines else _sentence_units(section)
        chunks.extend(_pack(units, limit, overlap, joiner="\n" if by_lines else " "))
    return [c for c in chunks if c.strip()]


def _markdown_sections(text: str) -> list[str]:
    starts = [m.start() for m in _HEADING.finditer(text)]
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True) if text[a:b].strip()]


def _sentence_units(text: str) -> list[str]:
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if flat:
            units.extend(s for s in _SENTENCE_END.split(flat) if s)
    return units


def _line_units(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _pieces(unit: str, limit: int) -> list[str]:
    """A unit longer than a chunk is cut at word boundaries (hard cut for a single huge word)."""
    if len(unit) <= limit:
        return [unit]
    out, current = [], ""
    for word in unit.split(" "):
        while len(word) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > limit:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        out.append(current)
    return out


def _pack(units: list[str], limit: int, overlap: int, joiner: str) -> list[str]:
    pieces = [p for u in units for p in _pieces(u, limit)]
    chunks: list[str] = []
    window: list[str] = []
    size = 0
    for piece in pieces:
        if window and size + len(joiner) + len(piece) > limit:
            chunks.append(joiner.join(window))
            window = _tail(window, overlap, limit - len(piece) - len(joiner))
            size = len(joiner.join(window))
        window.append(piece)
        size = len(joiner.join(window))
    if window:
        chunks.append(joiner.join(window))
    return chunks


def _tail(window: list[str], overlap: int, room: int) -> list[str]:
    """The end of a chunk, at most `overlap` characters, carried into the next chunk: whole units when they
    fit, else the last unit's closing words (so consecutive chunks always share some text)."""
    budget = min(overlap, room)
    kept: list[str] = []
    size = 0
    for unit in reversed(window):
        if size + len(unit) > budget:
            break
        kept.insert(0, unit)
        size += len(unit) + 1
    if not kept and window and budget > 0:
        words = window[-1][-budget:].split(" ", 1)
        tail = words[-1] if len(words) > 1 else words[0]
        kept = [tail] if tail.strip() else []
    return kept
