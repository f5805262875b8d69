"""The offline model's file-tool phrases, so demos and loop tests exercise the file tools:

"open <file>"                       -> open_files (the name matched against the <directories> listing)
"grep <pattern>" / "find <pattern>" -> grep_files
"search files for <query>"          -> semantic_search_files
"""

from __future__ import annotations

import re
from typing import Any

_FILE_TAG = re.compile(r'<file status="(?:open|closed)" name="([^"]+)">')
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^(?:please\s+)?search\s+(?:the\s+|my\s+)?files?\s+for\s+(.+)$", re.IGNORECASE),
        "semantic_search_files",
    ),
    (re.compile(r"^(?:please\s+)?(?:grep|find)\s+(?:for\s+)?(.+)$", re.IGNORECASE), "grep_files"),
    (re.compile(r"^(?:please\s+)?open\s+(?:the\s+)?(?:file\s+)?(.+)$", re.IGNORECASE), "open_files"),
)
FILE_TOOLS = frozenset(name for _, name in _PHRASES)


def _clean(text: str) -> str:
    return text.strip().rstrip(".!?").strip().strip("'\"`")


def attached_file_names(system_text: str) -> list[str]:
    return _FILE_TAG.findall(system_text)


def _resolve(name: str, files: list[str]) -> str:
    """The listed file the user means: exact, then by its name without the folder, else as typed."""
    for candidate in files:
        if candidate == name:
            return candidate
    lowered = name.lower()
    return next(
        (f for f in files if f.lower().rsplit("/", 1)[-1] == lowered or f.lower().endswith("/" + lowered)),
        name,
    )


def file_tool_call(user_text: str, system_text: str, offered: set[str]) -> tuple[str, dict[str, Any]] | None:
    """(tool, arguments) when the user's words ask for a file tool that is on offer, else None."""
    text = user_text.strip()
    for pattern, tool in _PHRASES:
        match = pattern.match(text)
        if match is None or tool not in offered:
            continue
        arg = _clean(match.group(1))
        if not arg:
            return None
        if tool == "open_files":
            return tool, {"file_requests": [{"file_name": _resolve(arg, attached_file_names(system_text))}]}
        if tool == "grep_files":
            return tool, {"pattern": arg}
        return tool, {"query": arg}
    return None
