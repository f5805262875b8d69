"""Default system prompts per agent type (our own wording of the MemGPT design).

`{CORE_MEMORY}` is replaced by the compiled memory; without it, memory is appended after a blank line.
"""

from __future__ import annotations

from pathlib import Path

_DIR = Path(__file__).parent

_FILES = {
    "memgpt_agent": "memgpt_chat.txt",
    "memgpt_v2_agent": "memgpt_chat.txt",
    "letta_v1_agent": "letta_v1.txt",
    "sleeptime_agent": "sleeptime.txt",
}


def default_system_prompt(agent_type: str) -> str:
    return (_DIR / _FILES.get(agent_type, "letta_v1.txt")).read_text(encoding="utf-8")
