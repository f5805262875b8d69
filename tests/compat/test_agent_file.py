"""Agent File: export an agent and import it back; import every public example `.af` file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from letta_client import BadRequestError, Letta
from pydantic import SecretStr

from engram.config import Settings
from tests.fake_llm import FakeLlmServer

# shared/ sits beside the checkout (developers and CI alike).
SHARED = Path(__file__).resolve().parents[3] / "shared"
AGENT_FILES = sorted((SHARED / "data" / "agent-files").rglob("*.af"))
CUSTOM_TOOL = 'def lookup_order(order_id: str) -> str:\n    """Find an order.\n\n    Args:\n        order_id: The id.\n    """\n    return order_id\n'


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """The examples name OpenAI and Anthropic models: the fake LLM server speaks both wire formats (answering
    like the offline model), so an imported agent answers with its own model handle."""
    fake_llm = FakeLlmServer.shared()
    return settings.model_copy(update={
        "openai_base_url": fake_llm.url, "openai_api_key": SecretStr("test"),
        "anthropic_base_url": fake_llm.anthropic_url, "anthropic_api_key": SecretStr("test"),
    })  # fmt: skip


def _import(letta: Letta, document: bytes, **fields: object) -> list[str]:
    return letta.agents.import_file(file=("agent.af", document, "application/json"), **fields).agent_ids  # type: ignore[arg-type]


def test_export_then_import_round_trips(letta: Letta) -> None:
    tool = letta.tools.upsert(source_code=CUSTOM_TOOL)
    agent = letta.agents.create(
        name="exported", system="You are Exporty.", tags=["af"], tool_ids=[tool.id],
        memory_blocks=[{"label": "human", "value": "Sam"}, {"label": "persona", "value": "Precise"}],
    )  # fmt: skip
    raw = letta.with_raw_response.agents.export_file(agent.id)
    assert raw.headers["content-type"].startswith("application/json")
    doc = json.loads(raw.parse())
    assert {"agents", "blocks", "tools", "groups", "files", "sources", "mcp_servers"} <= doc.keys()
    assert doc["agents"][0]["block_ids"] == ["block-0", "block-1"]
    assert any(t["name"] == "lookup_order" and "metadata_" in t for t in doc["tools"])
    # The system row stores its compiled prompt once (as text); the export still carries it as content.
    [system] = [m for m in doc["agents"][0]["messages"] if m["role"] == "system"]
    assert system["content"][0]["type"] == "text" and system["content"][0]["text"].startswith("You are Exporty.")
    assert "Sam" in system["content"][0]["text"]

    [copy_id] = _import(
        letta, json.dumps(doc).encode(), override_name="imported-copy", extra_body={"unknown_field": "x"}
    )
    copy = letta.agents.retrieve(copy_id)
    assert copy.id != agent.id and copy.name == "imported-copy" and copy.system == "You are Exporty."
    assert {b.label: b.value for b in copy.memory.blocks} == {"human": "Sam", "persona": "Precise"}
    assert {b.id for b in copy.blocks}.isdisjoint({b.id for b in agent.blocks})
    assert sorted(t.name for t in copy.tools) == sorted(t.name for t in agent.tools)
    assert tool.id in {t.id for t in copy.tools}  # same-named custom tool reused, not duplicated
    assert copy.tags == ["af"] and copy.llm_config.handle == agent.llm_config.handle
    scrubbed = json.loads(letta.agents.export_file(agent.id, scrub_messages=True))
    assert scrubbed["agents"][0]["messages"] == []


@pytest.mark.parametrize("path", AGENT_FILES, ids=[p.stem for p in AGENT_FILES])
def test_import_public_example(letta: Letta, path: Path, worker_running: None) -> None:  # noqa: ARG001
    raw = path.read_bytes()
    doc = json.loads(raw)
    doc = json.loads(doc) if isinstance(doc, str) else doc
    agent_ids = _import(letta, raw)
    assert len(agent_ids) == len(doc["agents"])
    for agent_id, source in zip(agent_ids, doc["agents"], strict=True):
        agent = letta.agents.retrieve(agent_id)
        assert agent.name == source["name"] and agent.agent_type == source["agent_type"]
        blocks = {b["id"]: b for b in doc["blocks"]}
        assert sorted(b.label for b in agent.blocks) == sorted(
            blocks[i]["label"] for i in source["block_ids"]
        )
        assert agent.llm_config.model and agent.llm_config.context_window
        file_tools = {t["id"]: t for t in doc["tools"]}
        runnable = {
            file_tools[i]["name"] for i in source["tool_ids"]
            if file_tools[i].get("tool_type") == "custom" and file_tools[i].get("source_code")
        }  # fmt: skip
        assert runnable <= {t.name for t in agent.tools}
        if source["messages"]:
            history = list(letta.agents.messages.list(agent_id, order="asc", limit=1000))
            assert len({m.id for m in history}) >= len(source["messages"])
            for message in history:  # each parsed as its own union member, not the SDK's SystemMessage fallback
                expected = "".join(w.capitalize() for w in message.message_type.split("_"))
                assert type(message).__name__ == expected, message
        custom = [t for t in agent.tools if t.tool_type == "custom"]
        assert all(t.source_code for t in custom)
    for group in doc.get("groups") or []:  # sleep-time groups: the pair is linked and shares its memory
        config = group["manager_config"]
        by_file_id = dict(zip([a["id"] for a in doc["agents"]], agent_ids, strict=True))
        primary = letta.agents.retrieve(by_file_id[config["manager_agent_id"]])
        helper = letta.agents.retrieve(by_file_id[group["agent_ids"][0]])
        assert primary.managed_group and primary.managed_group.agent_ids == [helper.id]
        assert primary.managed_group.sleeptime_agent_frequency == config["sleeptime_agent_frequency"]
        assert {b.id for b in primary.blocks} & {b.id for b in helper.blocks}
    primary_id = next(i for i, a in zip(agent_ids, doc["agents"], strict=True) if a["agent_type"] != "sleeptime_agent")
    if letta.agents.retrieve(primary_id).llm_config.model_endpoint_type not in ("openai", "anthropic"):
        letta.agents.update(primary_id, model="anthropic/claude-sonnet-4-5-20250929")  # e.g. gemini: no such server
    reply = letta.agents.messages.create(primary_id, input="hello")
    assert reply.stop_reason.stop_reason in ("end_turn", "tool_rule")  # tool_rule: a workflow agent's exit tool
    assert any(m.message_type in ("assistant_message", "tool_call_message") for m in reply.messages)
    assert letta.runs.retrieve(reply.usage.run_ids[0]).status == "completed"


def test_import_rejects_garbage_and_legacy_files_with_400(letta: Letta) -> None:
    with pytest.raises(BadRequestError, match="not valid JSON"):
        _import(letta, b"{not json")
    legacy_v1 = {"name": "legacy", "memory": {"blocks": []}, "tools": [], "messages": [], "llm_config": {}}
    with pytest.raises(BadRequestError, match="legacy"):
        _import(letta, json.dumps(legacy_v1).encode())
    with pytest.raises(BadRequestError, match="legacy"):
        letta.agents.export_file(letta.agents.create(name="v2-only").id, use_legacy_format=True)
    with pytest.raises(BadRequestError, match="groups"):
        _import(letta, json.dumps({"agents": [{"name": "x"}], "groups": "nope"}).encode())


def _stable(doc: dict) -> dict:
    """The document without what an import legitimately changes: timestamps."""
    out = json.loads(json.dumps(doc))
    out.pop("created_at", None)
    for agent in out["agents"]:
        for message in agent["messages"]:
            message.pop("created_at", None)
    return out


def test_round_trip_with_a_sleeptime_group_is_stable(letta: Letta, worker_running: None) -> None:  # noqa: ARG001
    agent = letta.agents.create(
        name="roundtrip", model="engram/offline", enable_sleeptime=True,
        memory_blocks=[{"label": "human", "value": "Kim"}, {"label": "persona", "value": "Calm"}],
    )  # fmt: skip
    assert letta.agents.messages.create(agent.id, input="hello").stop_reason.stop_reason == "end_turn"
    first = json.loads(letta.agents.export_file(agent.id))
    assert [a["agent_type"] for a in first["agents"]] == ["letta_v1_agent", "sleeptime_agent"]
    assert first["groups"][0]["manager_config"] == {
        "manager_type": "sleeptime", "manager_agent_id": "agent-0", "sleeptime_agent_frequency": 5,
    }  # fmt: skip
    assert first["agents"][0]["group_ids"] == ["group-0"]
    assert set(first["agents"][0]["block_ids"]) < set(first["agents"][1]["block_ids"])  # shared + memory_persona

    copy_id, helper_id = _import(letta, json.dumps(first).encode())
    copy = letta.agents.retrieve(copy_id)
    assert copy.managed_group and copy.managed_group.agent_ids == [helper_id]
    second = json.loads(letta.agents.export_file(copy_id))
    assert _stable(second) == _stable(first)
    assert letta.agents.messages.create(copy_id, input="hello again").stop_reason.stop_reason == "end_turn"
