"""A live Engram for letta-client: the real app served by uvicorn in a thread, on the module's database.

Fixtures (module scope, so each test module gets its own database, server and worker):
- `live_url`: base URL of the running API (`http://127.0.0.1:<port>`);
- `letta` / `aletta`: the official sync / async letta-client pointed at it (no retries hidden: max_retries=0
  is NOT set, the SDK behaves as it does for users);
- `worker_running`: a Temporal worker for the module's task queue (the agent workflow and its activities).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from letta_client import AsyncLetta, Letta

from engram.config import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    from api.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="engram-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    else:
        raise RuntimeError("the API did not start within 30 s")
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    _forget_llm_clients()


def _forget_llm_clients() -> None:
    """LLM clients are cached per process and bound to the event loop that built them; a server or worker thread
    whose loop ends must not leave them behind for later tests (they would fail closing on a closed loop)."""
    from engram.llm import registry

    registry._providers.clear()  # noqa: SLF001 - test teardown of a process-wide cache


@pytest.fixture(scope="module")
def letta(live_url: str) -> Iterator[Letta]:
    client = Letta(base_url=live_url, timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="module")
async def aletta(live_url: str) -> AsyncIterator[AsyncLetta]:
    client = AsyncLetta(base_url=live_url, timeout=60)
    yield client
    await client.close()


@pytest.fixture(scope="module")
def worker_running(settings: Settings) -> Iterator[None]:
    """The module's Temporal worker, in its own thread and event loop: sync letta-client calls block the test's
    thread, and a worker sharing that loop would never get to run the turn they wait for."""
    engram_worker = pytest.importorskip(
        "worker", reason="worker.py (the durable agent loop) is not in the tree yet"
    )
    if not hasattr(engram_worker, "build_worker"):
        pytest.skip("worker.build_worker is not available yet")

    ready = threading.Event()
    stop: dict[str, asyncio.AbstractEventLoop | asyncio.Event] = {}
    errors: list[BaseException] = []

    async def main() -> None:
        from temporalio.client import Client
        from temporalio.contrib.pydantic import pydantic_data_converter

        client = await Client.connect(
            settings.temporal_target,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )
        stop["loop"], stop["event"] = asyncio.get_running_loop(), asyncio.Event()
        from engram.store.db import create_engine, session_factory

        engine = create_engine(settings.database_url or "", pool_size=5)
        try:
            async with engram_worker.build_worker(client, settings, session_factory(engine)):
                ready.set()
                await stop["event"].wait()  # type: ignore[union-attr]
        finally:
            await engine.dispose()
            from engram.llm.registry import close_providers

            with contextlib.suppress(Exception):
                await close_providers()  # the clients this loop built
            _forget_llm_clients()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="engram-worker", daemon=True)
    thread.start()
    ready.wait(60)
    if errors:
        raise errors[0]
    yield
    loop, event = stop.get("loop"), stop.get("event")
    if isinstance(loop, asyncio.AbstractEventLoop) and isinstance(event, asyncio.Event):
        loop.call_soon_threadsafe(event.set)
    thread.join(timeout=30)
