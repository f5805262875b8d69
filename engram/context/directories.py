"""The `<directories>` section of the system prompt (Letta's Memory.compile): attached folders, their
files open or closed, and open files' visible windows cut to `per_file_view_window_char_limit`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from engram.files.attachment import agent_file_limits
from engram.files.view import truncate_view
from engram.store import file_agents as open_files_store
from engram.store import folders as folder_store
from engram.store.models import Agent, FileAgent, Folder


def _render_file(row: FileAgent, char_limit: int) -> list[str]:
    value = truncate_view(row.visible_content or "", char_limit) if row.is_open else ""
    status = "open" if row.is_open else "closed"
    lines = [f'<file status="{status}" name="{row.file_name}">', "<metadata>", "- read_only=true",
             f"- chars_current={len(value)}", f"- chars_limit={char_limit}", "</metadata>"]  # fmt: skip
    if row.is_open:
        lines += ["<value>", value, "</value>"]
    return [*lines, "</file>"]


def render_directories_of(agent: Agent, folders: list[Folder], rows: list[FileAgent]) -> str:
    if not folders:
        return ""
    max_open, char_limit = agent_file_limits(agent)
    open_count = sum(1 for r in rows if r.is_open and r.visible_content)
    out = ["<directories>", "<file_limits>", f"- current_files_open={open_count}", f"- max_files_open={max_open}",
           "</file_limits>"]  # fmt: skip
    for folder in folders:
        out.append(f'<directory name="{folder.name}">')
        if folder.description:
            out += ["<description>", folder.description, "</description>"]
        if folder.instructions:
            out += ["<instructions>", folder.instructions, "</instructions>"]
        for row in (r for r in rows if r.folder_id == folder.id):
            out += _render_file(row, char_limit)
        out.append("</directory>")
    out.append("</directories>")
    return "\n".join(out)


async def render_directories(session: AsyncSession, org_id: str, agent: Agent) -> str:
    """The section for this agent, or "" when it has no folder (then the prompt has no section at all)."""
    folders = (await folder_store.folders_of_agents(session, org_id, [agent.id]))[agent.id]
    if not folders:
        return ""
    return render_directories_of(agent, folders, await open_files_store.agent_rows(session, org_id, agent.id))
