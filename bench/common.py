"""Helpers every scenario needs, kept apart so the scenario modules and the runner agree on one model,
one request timeout, one percentile rule and one way to create an agent without importing each other.
"""

from __future__ import annotations

import math
from typing import Any

MODEL = "openai/bench"  # through the real OpenAI SDK path, answered by the fake LLM
REQUEST_TIMEOUT_S = 60.0


def ms(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 1)


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def agent_kwargs(name: str, agent_type: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"name": name, "model": MODEL, "memory_blocks": [
        {"label": "human", "value": "The human's name is not known yet."},
        {"label": "persona", "value": "I am a concise, friendly assistant."}]}  # fmt: skip
    if agent_type:
        kw["agent_type"] = agent_type
    return kw
