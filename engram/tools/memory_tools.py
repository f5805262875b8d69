"""Core-memory edits as pure functions on a block value (Letta's argument schemas and messages, B.3).

Each returns the new value or raises `ToolError`, whose text goes back to the model as an error tool
result; the executor applies the new value with compare-and-set.
"""

from __future__ import annotations

import re

_LINE_PREFIX = re.compile(r"^\d+→ ", re.MULTILINE)
_WARNING_BANNER = "# NOTE: Line numbers shown below"


class ToolError(Exception):
    """A tool failure the model should read and can fix (bad label, no match, over the limit)."""


def _guard_line_numbers(*texts: str) -> None:
    for text in texts:
        if _LINE_PREFIX.search(text or "") or _WARNING_BANNER in (text or ""):
            raise ToolError(
                "Error: old_string/new_string contains a line number prefix, which is not allowed. Do not include "
                "line numbers when editing memory blocks; they are only shown for viewing."
            )


def append(value: str, content: str) -> str:
    return f"{value}\n{content}" if value else content


def replace_all(value: str, label: str, old: str, new: str) -> str:
    if old not in value:
        raise ToolError(f"Old content '{old}' not found in memory block '{label}'")
    return value.replace(old, new)


def replace_once(value: str, label: str, old: str, new: str) -> str:
    _guard_line_numbers(old, new)
    old, new = old.expandtabs(), new.expandtabs()
    value = value.expandtabs()
    count = value.count(old) if old else 0
    if count == 0:
        raise ToolError(
            f"No replacement was performed, old_string `{old}` did not appear verbatim in memory block with "
            f"label `{label}`."
        )
    if count > 1:
        lines = [i + 1 for i, line in enumerate(value.split("\n")) if old.split("\n")[0] in line]
        raise ToolError(
            f"No replacement was performed. Multiple occurrences of old_string `{old}` in lines {lines}. "
            "Please ensure it is unique."
        )
    return value.replace(old, new, 1)


def insert(value: str, label: str, new: str, insert_line: int = -1) -> str:
    _guard_line_numbers(new)
    lines = value.expandtabs().split("\n") if value else []
    n = len(lines)
    line = n if insert_line == -1 else insert_line
    if line < 0 or line > n:
        raise ToolError(
            f"Invalid `insert_line` parameter: {insert_line}. It should be within the range of lines of the "
            f"memory block `{label}`: [0, {n}], or -1 to append to the end."
        )
    return "\n".join(lines[:line] + new.expandtabs().split("\n") + lines[line:])
