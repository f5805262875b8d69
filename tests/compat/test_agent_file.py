"""Agent File: export an agent and import it back; import every public example `.af` file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from letta_client import Letta, UnprocessableEntityError

# shared/ sits beside the checkout (developers and CI alike).
SHARED = Path(__file__).resolve().parents[3] / "shared"
AGENT_FILES = sorted((SHARED / "data" / "agent-files").rglob("*.af"))
CUSTOM_TOOL = 'def lookup_order(order_id: str) -> str:\n    """Find an order.\n\n    Args:\n        order_id: The id.\n    """\n    return order_id\n'


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
def test_import_public_example(letta: Letta, path: Path) -> None:
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


def test_import_rejects_garbage_with_422(letta: Letta) -> None:
    with pytest.raises(UnprocessableEntityError, match="not valid JSON"):
        _import(letta, b"{not json")
    with pytest.raises(UnprocessableEntityError, match="v2"):
        _import(letta, b'{"name": "legacy"}')
