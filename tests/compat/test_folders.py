"""Folders and files with the real letta-client: uploads of every Letta test file end in a clear outcome, the
agent greps and semantically searches them through the offline model, duplicate-name modes, open-file LRU
and the `<directories>` rendering, the upload size limit, and deleting a file while it is being ingested."""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from letta_client import APIStatusError, BadRequestError, Letta
from temporalio.client import Client, WorkflowExecutionStatus

from engram.config import Settings
from engram.runtime.files_cmd import upload_files

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "letta-tests-data"  # beside the checkout
TEXT_FILES = (
    "long_test.txt",
    "memgpt_paper.pdf",
    "philosophical_question.txt",
    "test.csv",
    "test.json",
    "test.md",
    "test.txt",
)
IMAGE = "Camponotus_flavomarginatus_ant.jpg"
UPLOAD_LIMIT = 2_000_000


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    """Small embedding batches with a pause, so a long file stays in `embedding` long enough to be deleted."""
    return settings.model_copy(
        update={
            "file_embed_batch_size": 4,
            "file_embed_batch_pause_s": 0.05,
            "max_upload_bytes": UPLOAD_LIMIT,
        }
    )


def wait_done(letta: Letta, folder_id: str, file_id: str, timeout_s: float = 90.0):  # noqa: ANN201
    deadline = time.monotonic() + timeout_s
    while True:
        file = letta.folders.files.retrieve(file_id, folder_id=folder_id)
        if file.processing_status in ("completed", "error") or time.monotonic() > deadline:
            return file
        time.sleep(0.1)


@pytest.fixture(scope="module")
def library(letta: Letta, worker_running: None) -> tuple[str, dict[str, str]]:  # noqa: ARG001
    """A folder holding every file of Letta's test data, ingested: (folder id, file name -> file id)."""
    folder = letta.folders.create(
        name="library", description="Letta's test documents", instructions="Cite files."
    )
    uploaded = {}
    for name in (*TEXT_FILES, IMAGE):
        with open(DATA / name, "rb") as handle:
            file = letta.folders.files.upload(folder.id, file=handle)
        assert file.file_name == f"library/{name}" and file.source_id == folder.id
        assert file.processing_status in ("pending", "parsing", "embedding", "completed")
        uploaded[name] = file.id
    for file_id in uploaded.values():
        wait_done(letta, folder.id, file_id)
    return folder.id, uploaded


def test_every_test_file_ends_with_a_clear_outcome(letta: Letta, library: tuple[str, dict[str, str]]) -> None:
    folder_id, uploaded = library
    listed = {f.file_name: f for f in letta.folders.files.list(folder_id)}
    assert set(listed) == set(uploaded)  # list shows names without the folder prefix
    for name in TEXT_FILES:
        file = listed[name]
        assert file.processing_status == "completed", (name, file.error_message)
        assert file.total_chunks and file.chunks_embedded == file.total_chunks, name
    image = listed[IMAGE]
    assert image.processing_status == "error" and "No text extracted" in (image.error_message or "")
    paper = letta.folders.files.retrieve(
        uploaded["memgpt_paper.pdf"], folder_id=folder_id, include_content=True
    )
    assert "virtual context management" in (paper.content or "")


def _agent_with_library(letta: Letta, library: tuple[str, dict[str, str]], **fields: object) -> str:
    agent = letta.agents.create(name="reader", model="engram/offline", **fields)  # type: ignore[arg-type]
    assert letta.agents.folders.attach(library[0], agent_id=agent.id) is None  # 1.x SDKs get null
    return agent.id


def _tool_output(letta: Letta, agent_id: str, text: str) -> str:
    response = letta.agents.messages.create(agent_id, messages=[{"role": "user", "content": text}])
    returns = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert returns, [m.message_type for m in response.messages]
    return returns[0].tool_return


def test_unsupported_or_unreadable_files_end_in_error_with_the_reason(
    letta: Letta,
    worker_running: None,  # noqa: ARG001
) -> None:
    folder = letta.folders.create(name="bad-input")
    cases = {
        (
            "report.docx",
            b"PK\x03\x04 not really a document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ): "Unsupported file type",
        ("broken.pdf", b"%PDF-1.4 this is not a pdf body", "application/pdf"): "not a readable PDF",
        ("blob.txt", b"\x00\x01\x02binary\x00", "text/plain"): "binary data",
        ("empty.md", b"  \n\n ", "text/markdown"): "is empty",
    }
    for (name, body, mime), reason in cases.items():
        uploaded = letta.folders.files.upload(folder.id, file=(name, body, mime))
        file = wait_done(letta, folder.id, uploaded.id)
        assert file.processing_status == "error" and reason in (file.error_message or ""), (
            name,
            file.error_message,
        )


def test_agent_greps_and_searches_known_lines(letta: Letta, library: tuple[str, dict[str, str]]) -> None:
    agent_id = _agent_with_library(letta, library)
    tools = {t.name for t in letta.agents.retrieve(agent_id).tools}
    assert {"open_files", "grep_files", "semantic_search_files"} <= tools
    grep = _tool_output(letta, agent_id, "grep Prime Minister of Italy")
    assert grep.startswith("Found ") and "library/long_test.txt" in grep and "> 1: Enrico Letta" in grep
    paper = _tool_output(letta, agent_id, "find virtual context management")
    assert "=== library/memgpt_paper.pdf:" in paper
    semantic = _tool_output(
        letta, agent_id, "search files for hierarchical memory systems in operating systems"
    )
    assert semantic.startswith("Found ") and "library/memgpt_paper.pdf (passage #1)" in semantic
    bad = _tool_output(letta, agent_id, "grep (unclosed")
    assert "Invalid regex pattern" in bad


def test_file_tool_arguments_page_filter_and_range(letta: Letta, library: tuple[str, dict[str, str]]) -> None:
    agent_id = _agent_with_library(letta, library)
    page = _tool_output(
        letta,
        agent_id,
        'call grep_files {"pattern": "letta", "include": "*.txt", "offset": 20, "context_lines": 0}',
    )
    assert "(showing matches 21-40 of " in page and "  - library/long_test.txt:" in page
    assert "test.md" not in page and 'grep_files(pattern="letta", offset=40)' in page
    ranged = _tool_output(
        letta,
        agent_id,
        'call open_files {"file_requests": [{"file_name": "library/long_test.txt", '
        '"offset": 10, "length": 5}]}',
    )
    assert ranged.startswith("* Opened library/long_test.txt (lines 11-15)")
    [row] = [f for f in letta.agents.files.list(agent_id) if f.file_name == "library/long_test.txt"]
    assert (row.is_open, row.start_line, row.end_line) == (True, 11, 15)
    assert (row.visible_content or "").startswith("[Viewing lines 11 to 15 (out of 338 lines)]\n11: ")
    past_end = _tool_output(
        letta, agent_id, 'call open_files {"file_requests": [{"file_name": "library/test.txt", "offset": 5}]}'
    )
    assert "has only 1 lines, but requested offset 6 is out of range" in past_end
    unknown = _tool_output(letta, agent_id, "open nothing-here.txt")
    assert "File 'nothing-here.txt' not found. Available files:" in unknown


def test_agent_created_with_folder_ids_gets_the_folder_and_update_can_remove_it(
    letta: Letta, library: tuple[str, dict[str, str]]
) -> None:
    agent = letta.agents.create(name="born-reader", folder_ids=[library[0]])
    assert [s.id for s in agent.sources] == [library[0]] and "grep_files" in {t.name for t in agent.tools}
    assert len(list(letta.agents.files.list(agent.id))) == len(library[1])
    assert [f.id for f in letta.agents.folders.list(agent.id)] == [library[0]]
    assert letta.folders.agents.list(library[0])[0] == agent.id
    updated = letta.agents.update(agent.id, folder_ids=[])
    assert updated.sources == [] and "grep_files" not in {t.name for t in updated.tools}
    assert list(letta.agents.files.list(agent.id)) == []


def test_duplicate_names_follow_the_chosen_mode(letta: Letta, worker_running: None) -> None:  # noqa: ARG001
    folder = letta.folders.create(name="dupes")
    path = DATA / "test.txt"
    first = letta.folders.files.upload(folder.id, file=path)
    second = letta.folders.files.upload(folder.id, file=path, duplicate_handling="suffix")
    assert (first.file_name, second.file_name) == ("dupes/test.txt", "dupes/test_(1).txt")
    raw = letta.folders.files.with_raw_response.upload(folder.id, file=path, duplicate_handling="skip")
    assert raw.headers.get("x-upload-result") == "skipped" and raw.parse().id == first.id
    with pytest.raises(BadRequestError, match="already exists in folder 'dupes'"):
        letta.folders.files.upload(folder.id, file=path, duplicate_handling="error")
    replaced = letta.folders.files.upload(folder.id, file=path, duplicate_handling="replace")
    assert [f.id for f in letta.folders.files.list(folder.id)] == [replaced.id]
    assert wait_done(letta, folder.id, replaced.id).processing_status == "completed"


def test_open_files_are_rendered_and_evicted_least_recently_used_first(
    letta: Letta, library: tuple[str, dict[str, str]], live_url: str
) -> None:
    folder_id, uploaded = library
    agent_id = _agent_with_library(letta, library, max_files_open=2, per_file_view_window_char_limit=400)
    files = list(letta.agents.files.list(agent_id, limit=3))
    assert len(files) == len(uploaded) and all(f.folder_name == "library" for f in files)
    assert len([f for f in files if f.is_open]) == 2
    letta.agents.files.close_all(agent_id)
    assert letta.agents.files.open(uploaded["test.md"], agent_id=agent_id) == []
    assert letta.agents.files.open(uploaded["test.json"], agent_id=agent_id) == []
    assert letta.agents.files.open(uploaded["long_test.txt"], agent_id=agent_id) == ["library/test.md"]
    opened = {f.file_name for f in letta.agents.files.list(agent_id, is_open=True)}
    assert opened == {"library/test.json", "library/long_test.txt"}
    blocks = letta.agents.retrieve(agent_id).memory.file_blocks or []
    assert {b.label for b in blocks if b.is_open} == opened and len(blocks) == len(uploaded)
    assert all(b.value.startswith("[Viewing file start") for b in blocks if b.is_open)
    prompt = httpx.post(f"{live_url}/v1/agents/{agent_id}/recompile").text
    assert "<directories>" in prompt and "- max_files_open=2" in prompt and "- current_files_open=2" in prompt
    assert '<directory name="library">' in prompt and "<instructions>\nCite files.\n</instructions>" in prompt
    assert '<file status="open" name="library/long_test.txt">' in prompt
    assert (
        "[Viewing file start (out of " in prompt
        and "1: Enrico Letta" in prompt
        and "...[TRUNCATED]" in prompt
    )
    assert '<file status="closed" name="library/test.md">' in prompt and "- chars_limit=400" in prompt
    opened_by_tool = _tool_output(letta, agent_id, "open test.md")
    assert opened_by_tool.startswith("* Opened library/test.md") and "least recently used" in opened_by_tool
    assert letta.agents.folders.detach(folder_id, agent_id=agent_id) is None
    agent = letta.agents.retrieve(agent_id)
    assert agent.sources == [] and not {"open_files", "grep_files"} & {t.name for t in agent.tools}
    assert "<directories>" not in httpx.post(f"{live_url}/v1/agents/{agent_id}/recompile").text


def test_upload_over_the_limit_is_413_and_stores_nothing(letta: Letta) -> None:
    folder = letta.folders.create(name="too-big")
    with pytest.raises(APIStatusError) as caught:
        letta.folders.files.upload(folder.id, file=("big.txt", b"x" * (UPLOAD_LIMIT + 1), "text/plain"))
    assert caught.value.status_code == 413
    assert list(letta.folders.files.list(folder.id)) == []


def test_deleting_a_file_mid_ingestion_cancels_it_and_removes_its_passages(
    letta: Letta,
    settings: Settings,
    worker_running: None,  # noqa: ARG001
) -> None:
    folder = letta.folders.create(name="short-lived")
    file = letta.folders.files.upload(folder.id, file=DATA / "long_test.txt")
    deadline = time.monotonic() + 30
    while letta.folders.files.retrieve(file.id, folder_id=folder.id).processing_status != "embedding":
        assert time.monotonic() < deadline, "ingestion never reached embedding"
        time.sleep(0.02)
    letta.folders.files.delete(file.id, folder_id=folder.id)
    assert list(letta.folders.files.list(folder.id)) == []
    time.sleep(0.5)  # the cancelled activity would have written its next batch by now
    url = (settings.database_url or "").replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        count = conn.execute("SELECT count(*) FROM file_passages WHERE file_id = %s", (file.id,)).fetchone()
    assert count == (0,)
    assert asyncio.run(_ingest_status(settings, file.id)) == WorkflowExecutionStatus.CANCELED


async def _ingest_status(settings: Settings, file_id: str) -> WorkflowExecutionStatus | None:
    client = await Client.connect(settings.temporal_target, namespace=settings.temporal_namespace)
    return (await client.get_workflow_handle(f"file-ingest:{file_id}").describe()).status


def test_cli_upload_shows_each_file_until_it_is_done(live_url: str, worker_running: None) -> None:  # noqa: ARG001
    out = io.StringIO()
    code = upload_files(live_url, None, "cli-docs", [DATA / "test.md", DATA / IMAGE], out=out, poll_s=0.05)
    lines = out.getvalue().splitlines()
    assert code == 1  # the image cannot be read
    assert any(
        re.fullmatch(r"cli-docs/test\.md\s+\[#{24}\]\s+(\d+)/\1\s+chunks  completed", line) for line in lines
    ), lines
    assert any(
        line.startswith(f"cli-docs/{IMAGE}") and "error: No text extracted" in line for line in lines
    ), lines
