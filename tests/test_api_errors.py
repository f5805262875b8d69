"""Client mistakes get a clear 4xx with a `detail` a user can act on, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from engram.config import Settings


@pytest.fixture(scope="module")
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://engram") as client:
            yield client


@pytest.fixture(scope="module")
async def agent_id(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/v1/agents/", json={"name": "errors", "memory_blocks": [{"label": "human", "value": "x"}]}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _unknown(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


@pytest.mark.parametrize(
    "path",
    ["/v1/agents/{agent}", "/v1/blocks/{block}", "/v1/tools/{tool}", "/v1/agents/{agent}/core-memory/blocks",
     "/v1/agents/{agent}/tools", "/v1/agents/{agent}/archival-memory", "/v1/agents/{agent}/export",
     "/v1/blocks/{block}/agents"],
)  # fmt: skip
async def test_unknown_ids_are_404_naming_the_id(http: httpx.AsyncClient, path: str) -> None:
    ids = {"agent": _unknown("agent"), "block": _unknown("block"), "tool": _unknown("tool")}
    response = await http.get(path.format(**ids))
    assert response.status_code == 404
    assert any(i in response.json()["detail"] for i in ids.values())


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/agents/not-an-id"), ("PATCH", "/v1/agents/agent-123"), ("DELETE", "/v1/agents/block-2b0c7c9e-6f0e-4d1e-9a51-3f4c8d2e7a10"),
     ("GET", "/v1/blocks/xyz"), ("GET", "/v1/tools/tool-NOT-A-UUID")],
)  # fmt: skip
async def test_malformed_ids_are_422_with_a_message(http: httpx.AsyncClient, method: str, path: str) -> None:
    response = await http.request(method, path, json={} if method == "PATCH" else None)
    assert response.status_code == 422
    assert "is not a valid id" in response.json()["detail"]


async def test_attach_and_lookups_under_an_agent(http: httpx.AsyncClient, agent_id: str) -> None:
    base = f"/v1/agents/{agent_id}"
    assert (await http.patch(f"{base}/core-memory/blocks/attach/{_unknown('block')}")).status_code == 404
    assert (await http.patch(f"{base}/core-memory/blocks/attach/garbage")).status_code == 422
    assert (await http.patch(f"{base}/core-memory/blocks/detach/{_unknown('block')}")).status_code == 404
    assert (await http.patch(f"{base}/tools/attach/{_unknown('tool')}")).status_code == 404
    assert (await http.get(f"{base}/core-memory/blocks/no-such-label")).status_code == 404
    assert (await http.delete(f"{base}/archival-memory/{_unknown('passage')}")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/v1/agents/", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("POST", "/v1/agents/", {"json": ["a", "list"]}),
        ("POST", "/v1/agents/", {"json": {"memory_blocks": "not a list"}}),
        ("POST", "/v1/agents/", {"json": {"memory_blocks": [{"label": "human"}]}}),
        ("POST", "/v1/agents/", {"json": {"agent_type": "nonsense"}}),
        ("POST", "/v1/agents/", {"json": {"model": "noslash"}}),
        ("POST", "/v1/agents/", {"json": {"embedding": "nobody/embedder"}}),
        ("POST", "/v1/agents/", {"json": {"memory_blocks": [{"label": "a", "value": ""}, {"label": "a", "value": ""}]}}),
        ("POST", "/v1/agents/", {"json": {"timezone": "Mars/Olympus_Mons"}}),
        ("POST", "/v1/agents/", {"json": {"tool_rules": [{"type": "bogus", "tool_name": "send_message"}]}}),
        ("POST", "/v1/agents/", {"json": {"tool_rules": [{"type": "exit_loop"}]}}),
        ("POST", "/v1/agents/", {"json": {"tags": ["x" * 201]}}),
        ("POST", "/v1/agents/", {"json": {"context_window_limit": 10**12}}),
        ("POST", "/v1/agents/", {"json": {"model": "openai/" + "m" * 300}}),
        ("POST", "/v1/blocks/", {"json": {"label": "big", "value": "v", "limit": 10**10}}),
        ("GET", "/v1/agents/", {"params": {"limit": "many"}}),
        ("GET", "/v1/agents/", {"params": {"order": "sideways"}}),
        ("GET", "/v1/agents/", {"params": {"order_by": "name"}}),
        ("POST", "/v1/blocks/", {"json": {"label": "x"}}),
        ("POST", "/v1/blocks/", {"json": {"label": "", "value": "v"}}),
        ("POST", "/v1/tools/", {"json": {}}),
        ("POST", "/v1/tools/", {"json": {"source_code": "def f(:"}}),
        ("PUT", "/v1/tools/", {"json": {"source_code": "import os"}}),
        ("POST", "/v1/tools/", {"json": {"source_code": "def f(): pass", "json_schema": {"description": "no name"}}}),
        ("POST", "/v1/agents/import", {"files": {"file": ("x.af", b"[]", "application/json")}}),
        ("POST", "/v1/agents/import", {"files": {"file": ("x.af", b'"\\"nested\\""', "application/json")}}),
        ("POST", "/v1/agents/import", {"data": {"override_name": "no file"}}),
        ("POST", "/v1/agents/import", {"files": {"file": ("x.af", b'{"agents": [{"name": "m"}]}', "application/json")}}),
    ],
)  # fmt: skip
async def test_malformed_bodies_and_queries_are_4xx(
    http: httpx.AsyncClient, method: str, path: str, kwargs: dict
) -> None:
    response = await http.request(method, path, **kwargs)
    # An unreadable Agent File is Letta's 400, a readable one with bad content a 422; the rest are 422s.
    bad_file = path == "/v1/agents/import" and "files" in kwargs
    assert response.status_code in ((400, 422) if bad_file else (422,)), response.text
    assert response.json()["detail"]


async def test_malformed_bodies_under_an_agent_are_422(http: httpx.AsyncClient, agent_id: str) -> None:
    base = f"/v1/agents/{agent_id}"
    for method, path, body in [
        ("POST", f"{base}/archival-memory", {"text": ""}),
        ("POST", f"{base}/archival-memory", {"tags": ["no text"]}),
        ("PATCH", f"{base}/core-memory/blocks/human", {"limit": 0}),
        ("PATCH", base, {"model": "unknownprovider/x"}),
        ("PATCH", base, {"agent_type": "nonsense"}),
        ("PATCH", base, {"tags": "not-a-list"}),
    ]:
        response = await http.request(method, path, json=body)
        assert response.status_code == 422, (method, path, body, response.text)
    search = await http.get(f"{base}/archival-memory/search")  # `query` is required
    assert search.status_code == 422


async def test_conflicts_are_409_and_not_retried(http: httpx.AsyncClient, agent_id: str) -> None:
    block = (await http.post("/v1/blocks/", json={"label": "human", "value": "other"})).json()
    response = await http.patch(f"/v1/agents/{agent_id}/core-memory/blocks/attach/{block['id']}")
    assert response.status_code == 409 and response.headers["x-should-retry"] == "false"
    source = "def twice() -> str:\n    return 'x'\n"
    assert (await http.post("/v1/tools/", json={"source_code": source})).status_code == 200
    assert (await http.post("/v1/tools/", json={"source_code": source})).status_code == 409


async def test_unknown_cursor_ends_pagination_instead_of_failing(http: httpx.AsyncClient) -> None:
    for path in ("/v1/agents/", "/v1/blocks/", "/v1/tools/"):
        response = await http.get(path, params={"after": _unknown("agent")})
        assert response.status_code == 200 and response.json() == []


GARBAGE_BODIES = [None, [], "text", 12, {"name": 5, "tags": "x", "limit": -1}, {"value": None, "label": None}]
OWN_PREFIXES = ("/v1/agents", "/v1/blocks", "/v1/tools", "/v1/models", "/v1/passages")
SKIP = ("/messages", "/runs", "/reset-messages", "/summarize")  # the messaging routes have their own tests


async def test_no_route_answers_garbage_with_a_500(http: httpx.AsyncClient, agent_id: str) -> None:
    """Every resource route, called with real and unknown ids and a spread of malformed bodies."""
    schema = (await http.get("/openapi.json")).json()
    block_id = (await http.post("/v1/blocks/", json={"label": "fuzz", "value": "v"})).json()["id"]
    ids = {"agent_id": agent_id, "block_id": block_id, "tool_id": _unknown("tool"), "block_label": "human",
           "memory_id": _unknown("passage"), "tool_name": "conversation_search", "archive_id": _unknown("archive"),
           "folder_id": _unknown("source"), "file_id": _unknown("file"),
           "scheduled_message_id": _unknown("scheduled_message")}  # fmt: skip
    calls = [
        (method, path.format(**ids))
        for path, methods in schema["paths"].items()
        if path.startswith(OWN_PREFIXES) and not any(s in path for s in SKIP)
        for method in methods
    ]
    calls.sort(key=lambda call: call[0] == "delete")  # deletes last, so the agent exists for the rest
    for method, url in calls:
        for body in GARBAGE_BODIES:
            response = await http.request(method.upper(), url, json=body)
            assert response.status_code < 500, (method, url, body, response.text)
    assert len(calls) > 25


async def test_collections_answer_with_and_without_trailing_slash(http: httpx.AsyncClient) -> None:
    """No 307 round trip: letta-client sends `/v1/agents/`, hand-written clients often `/v1/agents`."""
    agent_id = (await http.post("/v1/agents", json={"name": "slashes"})).json()["id"]
    for path in ("/v1/agents", "/v1/blocks", "/v1/tools", "/v1/models", "/v1/models/embedding",
                 f"/v1/agents/{agent_id}/core-memory/blocks", f"/v1/agents/{agent_id}/tools",
                 f"/v1/agents/{agent_id}/archival-memory"):  # fmt: skip
        for variant in (path, path + "/"):
            response = await http.get(variant)
            assert response.status_code == 200 and isinstance(response.json(), list), (variant, response.text)
