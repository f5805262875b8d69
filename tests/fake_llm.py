"""A fake LLM server on loopback speaking OpenAI chat completions and Anthropic messages, for tests
and benchmarks: the real SDKs (and Engram's providers) run unchanged against it.

    server = FakeLlmServer().start()          # or FakeLlmServer.shared(), or `with FakeLlmServer() as s:`
    server.script("t-unique-model", [FakeReply.tool("memory_insert", {...}), FakeReply.text("Hi Ada")])
    OpenAIProvider(api_key="x", base_url=server.url)            # http://127.0.0.1:PORT/v1
    AnthropicProvider(api_key="x", base_url=server.anthropic_url)  # http://127.0.0.1:PORT
    server.requests("t-unique-model")         # request bodies received, in order

Replies are queued per model name, so each test uses its own model name and tests never interfere.
With an empty queue the server answers as the built-in offline model would (`default="offline"`),
or with plain "ok" text (`default="ok"`), or by calling `default(api, body) -> FakeReply`.
Endpoints: POST /v1/chat/completions, POST /v1/messages (stream or not), GET /v1/models.

A `FakeReply` (tests/fake_llm_wire.py) is text, tool call(s) (arguments as a dict, or a raw string for
malformed JSON), an HTTP error (`http_error(429)`, `context_overflow()`), optionally slow
(`delay_s`, `chunk_delay_s`), cut mid-stream (`cut_after_chunks`) or endless (`repeat=True`).
Server-wide `latency_s` / `chunk_latency_s` add latency for benchmarks; zero by default.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engram.llm.offline import respond as offline_respond
from tests.fake_llm_wire import (
    FakeReply,
    FakeToolCall,
    anthropic_events,
    anthropic_message,
    anthropic_to_request,
    error_body,
    openai_chunks,
    openai_completion,
    openai_to_request,
)

__all__ = ["FakeLlmServer", "FakeReply", "FakeToolCall"]


DefaultReply = Callable[[str, dict[str, Any]], FakeReply]


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """~4 characters a token over texts and tool arguments, without encoding the conversation again
    (json.dumps of 3,000 messages per request made the fake slower as a benchmark's conversation grew)."""
    chars = 0
    for m in messages:
        content = m.get("content")
        chars += 16 + (len(content) if isinstance(content, str) else len(str(content or "")))
        for call in m.get("tool_calls") or ():
            chars += len(call.get("function", {}).get("arguments") or "")
    return max(1, chars // 4)


class FakeLlmServer:
    """Uvicorn in a daemon thread on 127.0.0.1; thread-safe scripting from tests and scripts."""

    _shared: FakeLlmServer | None = None
    _shared_lock = threading.Lock()

    def __init__(
        self, *, latency_s: float = 0.0, chunk_latency_s: float = 0.0, default: str | DefaultReply = "offline",
        record: bool = True,
    ):
        self.latency_s = latency_s  # added to every response, for benchmarks
        self.chunk_latency_s = chunk_latency_s
        # Benchmarks pass False: 1,000 turns of a growing conversation kept in memory here would make the fake
        # itself slower turn after turn (a bigger heap for every garbage collection) and bias the figures.
        self.record = record
        self._default = default
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[FakeReply]] = defaultdict(deque)
        self._requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()  # set on stop(): delayed replies give up at once
        self.port = 0

    @classmethod
    def shared(cls) -> FakeLlmServer:
        """One started server per process (pytest session, benchmark), stopped at exit."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls().start()
                atexit.register(cls._shared.stop)
            return cls._shared

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """OpenAI `base_url`."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_url(self) -> str:
        """Anthropic `base_url` (the SDK appends /v1/messages)."""
        return self.base_url

    def script(self, model: str, steps: Iterable[FakeReply]) -> None:
        """Queue replies for requests naming `model`, answered in order."""
        with self._lock:
            self._scripts[model].extend(steps)

    def requests(self, model: str) -> list[dict[str, Any]]:
        """Bodies of the requests received for `model`, oldest first."""
        with self._lock:
            return list(self._requests[model])

    def pending(self, model: str) -> int:
        with self._lock:
            return len(self._scripts[model])

    def clear(self, model: str) -> None:
        with self._lock:
            self._scripts.pop(model, None)
            self._requests.pop(model, None)

    def start(self) -> FakeLlmServer:
        self._stopping = asyncio.Event()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"fake-llm-{self.port}"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def _next_reply(self, api: str, body: dict[str, Any]) -> FakeReply:
        model = str(body.get("model", ""))
        with self._lock:
            if self.record:
                self._requests[model].append(body)
            queue = self._scripts.get(model)
            if queue:
                return queue[0] if queue[0].repeat else queue.popleft()
        if callable(self._default):
            return self._default(api, body)
        if self._default == "offline":
            request = openai_to_request(body, turn_only=True) if api == "openai" else anthropic_to_request(body)
            return FakeReply.from_response(offline_respond(request))
        return FakeReply.text("ok")

    async def _answer(self, api: str, request: Request) -> Response:
        self._loop = asyncio.get_running_loop()
        raw = await request.body()
        body = json.loads(raw)
        reply = self._next_reply(api, body)
        if not await self._pause(self.latency_s + reply.delay_s):
            return JSONResponse({"error": {"message": "fake server stopping"}}, status_code=503)
        if reply.status >= 400:
            return JSONResponse(error_body(api, reply), status_code=reply.status)
        model = str(body.get("model", ""))
        prompt_tokens = _prompt_tokens(body.get("messages") or [])
        ids = [
            c.id or f"{'call' if api == 'openai' else 'toolu'}_{next(self._ids):06d}"
            for c in reply.tool_calls
        ]
        if api == "openai":
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = openai_chunks(model, reply, ids, prompt_tokens, include_usage)
            whole = openai_completion(model, reply, ids, prompt_tokens)
        else:
            events = anthropic_events(model, reply, ids, prompt_tokens)
            whole = anthropic_message(model, reply, ids, prompt_tokens)
        if not body.get("stream"):
            return JSONResponse(whole)
        return StreamingResponse(self._sse(api, events, reply), media_type="text/event-stream")

    async def _sse(
        self, api: str, events: Iterator[dict[str, Any]], reply: FakeReply
    ) -> AsyncIterator[bytes]:
        pause = self.chunk_latency_s + reply.chunk_delay_s
        for count, event in enumerate(events):
            if reply.cut_after_chunks is not None and count >= reply.cut_after_chunks:
                return  # a proxy or server that dies mid-answer: no [DONE] / message_stop
            if not await self._pause(pause):
                return
            data = json.dumps(event)
            yield (
                f"data: {data}\n\n" if api == "openai" else f"event: {event['type']}\ndata: {data}\n\n"
            ).encode()
        if api == "openai":
            yield b"data: [DONE]\n\n"

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when it is (so a test never waits on a slow reply)."""
        if seconds > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), seconds)
            except TimeoutError:
                pass
        return not self._stopping.is_set()

    async def _openai(self, request: Request) -> Response:
        return await self._answer("openai", request)

    async def _anthropic(self, request: Request) -> Response:
        return await self._answer("anthropic", request)

    async def _models(self, _: Request) -> Response:
        with self._lock:
            names = sorted({"offline", *self._scripts})
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "fake"} for name in names],
            }
        )


try:
    import pytest
except ImportError:  # usable from plain scripts (benchmarks) without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def fake_llm() -> FakeLlmServer:
        """The process-wide fake server; script it with a model name unique to your test."""
        return FakeLlmServer.shared()
