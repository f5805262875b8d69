"""The console in a real headless Chromium: what a person does with it, end to end, against the real stack.

Every flow saves a screenshot (see conftest). Agents use the offline model, which saves stated facts with a
memory tool and then replies, so one message gives a streamed tool call, its return and a reply.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from letta_client import Letta

AGENT_FILES = Path(__file__).resolve().parents[3] / "shared" / "data" / "agent-files"
MEMORY_TOOLS = (
    "memory_insert",
    "memory_replace",
    "core_memory_append",
    "core_memory_replace",
    "memory_rethink",
)

pytestmark = pytest.mark.usefixtures("worker_running")


def goto(page: Any, url: str) -> None:
    """Navigate and wait until the console has loaded the page's fragment."""
    page.goto(url)
    page.locator("#view[data-loaded]").wait_for(state="attached")


def listed(page: Any) -> list[str]:
    return [t.split("\t")[0].strip() for t in page.locator("#agent-list tbody tr").all_inner_texts()]


def tokens(page: Any, section: str) -> int:
    return int(page.locator(f"#context-panel [data-section={section}] .tokens").inner_text())


def open_agent(page: Any, agent_id: str) -> None:
    goto(page, f"/console/agents/{agent_id}")
    page.locator("#blocks-panel h2").wait_for()
    page.locator("#context-panel .ctxbar").wait_for()


def test_root_redirects_and_an_agent_is_created_from_the_list(page: Any, screenshots: Path) -> None:
    page.goto("/")
    assert page.url.endswith("/console/")
    page.locator("#create-agent").wait_for()
    page.fill("#create-agent [name=name]", "console-created")
    page.fill("#create-agent [name=human]", "Name: Grace")
    page.fill("#create-agent [name=tags]", "demo, console")
    page.click("#create-agent button[type=submit]")
    page.wait_for_url(re.compile(r"/console/agents/agent-"))
    page.locator("#agent-name", has_text="console-created").wait_for()
    human = page.locator("#blocks-panel form.block[data-label=human] textarea")
    assert human.input_value() == "Name: Grace"
    page.screenshot(path=str(screenshots / "agent-created.png"))
    goto(page, "/console/agents?q=console-created")
    assert listed(page) == ["console-created"]


def test_chat_streams_the_reply_with_the_tool_call_and_its_return(
    page: Any, letta: Letta, screenshots: Path
) -> None:
    agent = letta.agents.create(
        name="console-chat",
        memory_blocks=[{"label": "human", "value": ""}, {"label": "persona", "value": "Kind."}],
    )
    open_agent(page, agent.id)
    page.fill("#send-form textarea", "Hi! My name is Ada and I like chess.")
    page.keyboard.press("Enter")
    call = page.locator("#messages .msg.tool-call").first
    call.wait_for()
    assert any(name in call.inner_text() for name in MEMORY_TOOLS), call.inner_text()
    page.locator("#messages .msg.tool-return").first.wait_for()
    page.locator("#messages .msg.assistant").last.wait_for()
    page.locator("#chat-status", has_text="done").wait_for()
    assert page.locator("#messages .msg.user", has_text="My name is Ada").count() == 1
    # the agent wrote its memory: the block panel and the run list follow the turn
    page.locator("#blocks-panel form.block[data-label=human] textarea").filter(has_text="Ada").wait_for()
    page.locator("#runs-table tbody tr").first.wait_for()
    page.screenshot(path=str(screenshots / "agent-page.png"), full_page=True)
    # history after a reload renders the same kinds of messages
    open_agent(page, agent.id)
    page.locator("#messages .msg.tool-call").first.wait_for()
    assert page.locator("#messages .msg.assistant").count() >= 1


def test_block_edit_moves_the_context_bar_and_a_concurrent_edit_is_a_conflict(
    page: Any, letta: Letta, screenshots: Path
) -> None:
    agent = letta.agents.create(name="console-blocks", memory_blocks=[{"label": "human", "value": "Ada"}])
    open_agent(page, agent.id)
    before = tokens(page, "core")
    form = page.locator("#blocks-panel form.block[data-label=human]")
    form.locator("textarea").fill("Ada. " + "Enjoys long walks along the coast. " * 30)
    assert form.locator(".used").inner_text() == str(len(form.locator("textarea").input_value()))
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        "before => Number(document.querySelector('#context-panel [data-section=core] .tokens').textContent) > before",
        arg=before,
    )
    assert "long walks" in letta.agents.blocks.retrieve("human", agent_id=agent.id).value

    # someone else (here: the SDK, as the agent's tools would) writes while the editor is open
    letta.agents.blocks.update("human", agent_id=agent.id, value="Ada (edited elsewhere)")
    form.locator("textarea").fill("My draft that must not be lost")
    form.locator("button[type=submit]").click()
    conflict = form.locator(".conflict")
    conflict.wait_for()
    assert "Conflict" in conflict.inner_text() and "edited elsewhere" in conflict.inner_text()
    assert form.locator("textarea").input_value() == "My draft that must not be lost"
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "Ada (edited elsewhere)"
    page.screenshot(path=str(screenshots / "block-conflict.png"))
    conflict.get_by_role("button", name="Overwrite with my draft").click()
    conflict.wait_for(state="hidden")
    page.wait_for_function(
        "() => !document.querySelector('#blocks-panel form.block[data-label=human]').classList.contains('dirty')"
    )
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "My draft that must not be lost"


def test_a_run_opens_with_its_temporal_ui_link(page: Any, letta: Letta, screenshots: Path) -> None:
    agent = letta.agents.create(name="console-runs", memory_blocks=[{"label": "human", "value": ""}])
    response = letta.agents.messages.create(agent.id, input="Hello there")
    run_id = response.messages[0].run_id
    temporal = letta.runs.retrieve(run_id).metadata["temporal"]
    open_agent(page, agent.id)
    row = page.locator(f"#runs-table tr[data-run-id='{run_id}']")
    assert "completed" in row.inner_text() and "end_turn" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"**/console/runs/{run_id}")
    link = page.locator("#temporal-link")
    link.wait_for()
    assert page.locator("#workflow-id").inner_text() == temporal["workflow_id"]
    assert temporal["workflow_id"] in link.get_attribute("href")
    assert link.get_attribute("href") == temporal["ui_url"]
    page.locator("#run-messages .msg.assistant").first.wait_for()
    page.screenshot(path=str(screenshots / "run.png"))


def test_import_an_agent_file_from_the_shared_examples_and_export_it(page: Any, screenshots: Path) -> None:
    af = AGENT_FILES / "memgpt_agent" / "memgpt_agent.af"
    if not af.exists():
        pytest.skip(f"{af} is not available")
    page.goto("/console/agents")
    page.locator("#import-agent input[type=file]").set_input_files(str(af))
    page.fill("#import-agent [name=override_model_handle]", "engram/offline")
    page.click("#import-agent button[type=submit]")
    page.wait_for_url(re.compile(r"/console/agents/agent-"))
    page.locator("#blocks-panel form.block").first.wait_for()
    assert page.locator("#blocks-panel form.block").count() >= 1
    page.screenshot(path=str(screenshots / "imported.png"))
    with page.expect_download() as download:
        page.click("[data-action=export-agent]")
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["agents"][0]["name"] == page.locator("#agent-name").inner_text()


def test_agent_list_searches_by_name_and_tag_and_pages(page: Any, letta: Letta) -> None:
    for i in range(3):
        letta.agents.create(name=f"pager-{i}", tags=["pager"])
    letta.agents.create(name="other-one", tags=["elsewhere"])
    goto(page, "/console/agents?q=pager")
    assert listed(page) == ["pager-2", "pager-1", "pager-0"]  # newest first
    goto(page, "/console/agents?tag=elsewhere")
    assert listed(page) == ["other-one"]
    goto(page, "/console/agents?q=no-such-agent")
    assert page.locator("#no-agents").is_visible()
    goto(page, "/console/agents?q=pager&limit=2")
    assert listed(page) == ["pager-2", "pager-1"]
    page.click("#next-page")
    page.wait_for_url("**after=*")
    page.locator("#view[data-loaded*=after]").wait_for(state="attached")
    assert listed(page) == ["pager-0"] and page.locator("#next-page").count() == 0


def test_delete_asks_for_confirmation(page: Any, letta: Letta) -> None:
    agent = letta.agents.create(name="console-doomed")
    open_agent(page, agent.id)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("[data-action=delete-agent]")
    assert letta.agents.retrieve(agent.id).name == "console-doomed"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=delete-agent]")
    page.wait_for_url("**/console/agents")
    page.locator("#view[data-loaded]").wait_for(state="attached")
    assert page.locator(f"#agent-list tr[data-agent-id='{agent.id}']").count() == 0


def test_scheduled_messages_and_sleeptime_show_their_next_fire_times(
    page: Any, letta: Letta, live_url: str
) -> None:
    import httpx

    agent = letta.agents.create(name="console-sched", memory_blocks=[{"label": "human", "value": ""}])
    letta.agents.schedule.create(
        agent.id, messages=[{"role": "user", "content": "Morning check-in"}],
        schedule={"type": "recurring", "cron_expression": "0 9 * * *"},
    )  # fmt: skip
    sleeptime = httpx.patch(
        f"{live_url}/v1/agents/{agent.id}/sleeptime",
        json={"enabled": True, "schedule": {"interval_seconds": 3600}}, timeout=30,
    )  # fmt: skip
    assert sleeptime.status_code == 200, sleeptime.text
    open_agent(page, agent.id)
    item = page.locator("#schedule-panel li[data-scheduled-id]")
    item.wait_for()
    assert "cron 0 9 * * *" in item.inner_text() and "Morning check-in" in item.inner_text()
    assert re.search(r"next: \d{4}-\d\d-\d\dT", item.locator(".next-fire").inner_text())
    panel = page.locator("#sleeptime-panel")
    panel.locator(".next-fire").wait_for()
    assert "every 3600" in panel.inner_text()
    assert re.search(r"next: \d{4}-\d\d-\d\dT", panel.locator(".next-fire").inner_text())
    assert "/schedules/sleeptime" in panel.get_by_role("link", name="schedule ↗").get_attribute("href")


def test_a_pending_tool_call_is_approved_from_the_chat(page: Any, letta: Letta, screenshots: Path) -> None:
    probe = letta.agents.create(name="probe")
    gated = [t.name for t in probe.tools if t.name in MEMORY_TOOLS]
    agent = letta.agents.create(
        name="console-approve", memory_blocks=[{"label": "human", "value": ""}],
        tool_rules=[{"type": "requires_approval", "tool_name": name} for name in gated],
    )  # fmt: skip
    open_agent(page, agent.id)
    for name in gated:
        page.locator("#tools-panel li", has_text=name).locator(
            ".pill.warn", has_text="needs approval"
        ).wait_for()
    page.fill("#send-form textarea", "My name is Ada.")
    page.keyboard.press("Enter")
    page.locator("#chat-status", has_text="done (requires_approval)").wait_for()
    pending = page.locator("#approvals .pending")
    pending.wait_for()
    assert any(name in pending.inner_text() for name in gated)
    assert "Ada" not in letta.agents.blocks.retrieve("human", agent_id=agent.id).value  # nothing ran yet
    page.screenshot(path=str(screenshots / "approval-pending.png"))
    open_agent(page, agent.id)  # a reload finds the pending call in the history
    pending.wait_for()
    pending.get_by_role("button", name="Approve").click()
    page.locator("#chat-status", has_text="done").wait_for()
    page.locator("#messages .msg.tool-return").first.wait_for()
    assert page.locator("#approvals").is_hidden()
    assert "Ada" in letta.agents.blocks.retrieve("human", agent_id=agent.id).value

    page.fill("#send-form textarea", "I like chess.")
    page.keyboard.press("Enter")
    pending.wait_for()
    pending.locator(".reason").fill("not this one")
    pending.get_by_role("button", name="Deny").click()
    page.locator("#chat-status", has_text="done").wait_for()
    assert page.locator("#approvals").is_hidden()
    assert "chess" not in letta.agents.blocks.retrieve("human", agent_id=agent.id).value


def test_attached_folders_are_listed_and_counted_in_the_context_bar(page: Any, letta: Letta) -> None:
    agent = letta.agents.create(name="console-folders", memory_blocks=[{"label": "human", "value": ""}])
    folder = letta.folders.create(name="console-library", description="reference documents")
    letta.agents.folders.attach(folder.id, agent_id=agent.id)
    open_agent(page, agent.id)
    page.locator("#folders-panel li", has_text="console-library").wait_for()
    assert tokens(page, "files") > 0  # the <directories> section of the system prompt


def test_message_history_pages_back_to_the_first_message(page: Any, letta: Letta) -> None:
    agent = letta.agents.create(name="console-history", memory_blocks=[{"label": "human", "value": ""}])
    for word in ("first", "second", "third"):
        letta.agents.messages.create(agent.id, input=f"Message number {word}")
    goto(page, f"/console/agents/{agent.id}?history=2")
    older = page.locator("#older-messages")
    older.wait_for()
    assert page.locator("#messages .msg.user", has_text="number third").count() == 1
    assert page.locator("#messages .msg.user", has_text="number first").count() == 0
    while older.is_visible():
        count = page.locator("#messages .msg").count()
        older.click()
        page.wait_for_function(
            "n => document.querySelectorAll('#messages .msg').length > n || document.querySelector('#older-messages').hidden",
            arg=count,
        )
    users = page.locator("#messages .msg.user").all_inner_texts()
    assert [u.split("number ")[-1] for u in users] == ["first", "second", "third"]  # oldest on top
