"""Approximate token counts, for context-window checks when the provider has not reported usage yet.

Mirrors Letta's fallback counter (bytes / 4 x 1.3 safety margin) instead of downloading a tokenizer:
it over-counts slightly, which errs on the side of compacting early rather than overflowing.
"""

from __future__ import annotations

import json
import math

from engram.llm.base import ChatMessage, ToolSpec

CHARS_PER_TOKEN = 4
SAFETY_MARGIN = 1.3
PER_MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, as chat templates add them


def estimate_text_tokens(text: str) -> int:
    """Tokens in one piece of text (UTF-8 bytes, so non-Latin scripts count heavier, as they do)."""
    if not text:
        return 0
    return math.ceil(len(text.encode("utf-8")) / CHARS_PER_TOKEN * SAFETY_MARGIN)


def estimate_tokens(messages: list[ChatMessage], tools: list[ToolSpec]) -> int:
    """Prompt size of a request: message text, tool calls and tool schemas."""
    total = sum(_message_tokens(m) for m in messages)
    for tool in tools:
        schema = json.dumps(
            {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        )
        total += estimate_text_tokens(schema)
    return total


def _message_tokens(message: ChatMessage) -> int:
    tokens = message.derived.get("tokens")
    if tokens is None:  # kept on the message: the window cache reuses it across steps
        tokens = PER_MESSAGE_OVERHEAD_TOKENS + estimate_text_tokens(message.content or "")
        tokens += sum(estimate_text_tokens(c.name) + estimate_text_tokens(c.arguments) for c in message.tool_calls)
        message.derived["tokens"] = tokens
    return tokens
