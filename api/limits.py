"""Request limits: a body-size guard for every route, and per-send checks on the input messages.

Oversized input is refused before it touches Postgres or Temporal (413/422 with a message), so one
client cannot wedge an agent with a giant turn.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engram.config import Settings
from engram.errors import InvalidInput, PayloadTooLarge

UPLOAD_PATH_SUFFIXES = ("/agents/import", "/upload")


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length up front and counts chunked bodies as they arrive."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _limit_for(self, path: str) -> int:
        if path.rstrip("/").endswith(UPLOAD_PATH_SUFFIXES):
            return self.settings.max_upload_bytes
        return self.settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge as exc:
            await _too_large(send, exc.limit)


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body is larger than the limit of {limit} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-should-retry", b"false")]  # fmt: skip
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _text_length(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part.get("text") or "") for part in content if isinstance(part, dict))
    return 0


def check_turn_input(messages: list[dict[str, Any]], settings: Settings) -> None:
    """Raise InvalidInput (422) for too many messages, PayloadTooLarge (413) for an oversized one."""
    if len(messages) > settings.max_messages_per_request:
        raise InvalidInput(
            f"too many messages in one request: {len(messages)} > {settings.max_messages_per_request}"
        )
    for index, message in enumerate(messages):
        size = _text_length(message.get("content"))
        if size > settings.max_message_chars:
            raise PayloadTooLarge(
                f"message {index} has {size} characters, more than the limit of {settings.max_message_chars}"
            )
