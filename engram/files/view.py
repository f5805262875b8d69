"""What an agent sees of a file: numbered lines, a window of them, and Letta's per-agent limits.

Mirrors Letta's line chunker: blank lines are dropped, code keeps its indentation, other text is
stripped, and markdown ("documentation") is split into sentences rather than lines. Line numbers are
1-based; `offset` in the tools is a 0-based index into the same list.
"""

from __future__ import annotations

import re

from engram.files.parse import CODE_EXTENSIONS, MARKDOWN_EXTENSIONS, extension

TRUNCATION_SUFFIX = "...[TRUNCATED]\n# NOTE: This block is truncated, use functions to view the full content."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# Letta's defaults by context window (utils.calculate_file_defaults_based_on_context_window): files, chars.
_DEFAULTS_BY_WINDOW = ((8_000, 3, 5_000), (32_000, 5, 15_000), (128_000, 10, 25_000), (200_000, 10, 40_000))
DEFAULTS_LARGE_WINDOW = (15, 40_000)
DEFAULTS_UNKNOWN_WINDOW = (5, 50_000)


def file_limits(
    context_window: int | None, max_files_open: int | None, per_file_view_window_char_limit: int | None
) -> tuple[int, int]:
    """(max_files_open, per_file_view_window_char_limit): the agent's own values, else Letta's defaults."""
    if context_window is None:
        files, chars = DEFAULTS_UNKNOWN_WINDOW
    else:
        files, chars = next(
            ((f, c) for w, f, c in _DEFAULTS_BY_WINDOW if context_window <= w), DEFAULTS_LARGE_WINDOW
        )
    return max_files_open or files, per_file_view_window_char_limit or chars


def is_documentation(file_name: str) -> bool:
    return extension(file_name) in MARKDOWN_EXTENSIONS


def document_lines(content: str, file_name: str) -> list[str]:
    """The numbered units of a file: sentences for markdown, lines otherwise; blanks dropped."""
    if is_documentation(file_name):
        return [s for s in _SENTENCE_END.split(" ".join(content.split())) if s]
    keep_indent = extension(file_name) in CODE_EXTENSIONS
    lines = (line.rstrip() if keep_indent else line.strip() for line in content.splitlines())
    return [line for line in lines if line.strip()]


def render_view(
    lines: list[str], file_name: str, offset: int | None = None, length: int | None = None
) -> tuple[str, int | None, int | None]:
    """(visible text, first line, last line): the header and "<n>: <line>" rows; whole file when no range.

    Raises ValueError when `offset` lies past the end (the tool reports it to the model)."""
    unit = "sentences" if is_documentation(file_name) else "lines"
    total = len(lines)
    if offset is None and length is None:
        header = f"[Viewing file start (out of {total} {unit})]"
        return "\n".join([header, *(f"{i}: {line}" for i, line in enumerate(lines, start=1))]), None, None
    start = max(0, offset or 0)
    if total and start >= total:
        raise ValueError(
            f"File {file_name} has only {total} {unit}, but requested offset {start + 1} is out of range"
        )
    end = total if length is None else min(total, start + max(1, length))
    if length is None:
        header = f"[Viewing {unit} {start + 1} to end (out of {total} {unit})]"
    else:
        header = f"[Viewing {unit} {start + 1} to {end} (out of {total} {unit})]"
    rows = (f"{i}: {line}" for i, line in enumerate(lines[start:end], start=start + 1))
    return "\n".join([header, *rows]), start + 1, end


def truncate_view(value: str, limit: int) -> str:
    """Cut a visible window so that, with Letta's truncation note, it fits `limit` characters."""
    if len(value) <= limit:
        return value
    return value[: max(0, limit - len(TRUNCATION_SUFFIX))] + TRUNCATION_SUFFIX
