"""Folders attached to agents: the file tools come and go with them, and attached files open in the agent's
context window under its `max_files_open` limit (least recently used closed first), as Letta does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from engram.files.view import document_lines, file_limits, render_view
from engram.store import agents as agent_store
from engram.store import file_agents as open_files_store
from engram.store import files as file_store
from engram.store import folders as folder_store
from engram.store import tools as tool_store
from engram.store.models import Agent, FileAgent, Folder, FolderFile

FILE_TOOL_NAMES = ("open_files", "grep_files", "semantic_search_files")


def agent_file_limits(agent: Agent) -> tuple[int, int]:
    """(max_files_open, per_file_view_window_char_limit) for the agent, defaults by its context window."""
    window = agent.context_window_limit or (agent.llm_config or {}).get("context_window")
    return file_limits(window, agent.max_files_open, agent.per_file_view_window_char_limit)


async def attach_folder(session: AsyncSession, org_id: str, agent: Agent, folder: Folder) -> None:
    """Link the folder, attach any missing file tools, add a row per file and open the readable ones
    (oldest first, up to the limit; newly attached files win over files already open)."""
    await folder_store.attach_folder(session, org_id, agent.id, folder.id)
    builtins = await tool_store.ensure_builtin_tools(session, org_id)
    for name in FILE_TOOL_NAMES:
        await tool_store.attach_tool(session, org_id, agent.id, builtins[name].id)
    files = await file_store.list_files(
        session, org_id, folder.id, limit=None, descending=False, with_content=True
    )
    await open_files_store.ensure_rows(
        session, org_id, agent.id, [(f.id, f.folder_id, f.file_name) for f in files]
    )
    max_open, _ = agent_file_limits(agent)
    for file in [f for f in files if f.content][:max_open]:
        row = await open_files_store.get_row(session, org_id, agent.id, file.id)
        await open_whole_file(session, row, file.content or "", max_open)


async def detach_folder(session: AsyncSession, org_id: str, agent: Agent, folder_id: str) -> None:
    """Unlink the folder and drop the agent's rows for its files; the file tools go with the last folder."""
    await folder_store.detach_folder(session, org_id, agent.id, folder_id)
    await open_files_store.remove_folder_rows(session, org_id, agent.id, folder_id)
    if await folder_store.agent_folder_ids(session, org_id, agent.id):
        return
    attached = {t.name: t for t in await tool_store.list_agent_tools(session, org_id, agent.id)}
    for name in FILE_TOOL_NAMES:
        if name in attached:
            await tool_store.detach_tool(session, org_id, agent.id, attached[name].id)


async def set_agent_folders(session: AsyncSession, org_id: str, agent: Agent, folder_ids: list[str]) -> None:
    """Make `folder_ids` the agent's folders (agent create/update with `folder_ids`): attach and detach as
    the attach/detach routes do, so tools and open files follow. An unknown folder is NotFound."""
    wanted = list(dict.fromkeys(folder_ids))
    folders = [await folder_store.get_folder(session, org_id, folder_id) for folder_id in wanted]
    for folder_id in await folder_store.agent_folder_ids(session, org_id, agent.id):
        if folder_id not in wanted:
            await detach_folder(session, org_id, agent, folder_id)
    current = set(await folder_store.agent_folder_ids(session, org_id, agent.id))
    for folder in folders:
        if folder.id not in current:
            await attach_folder(session, org_id, agent, folder)


async def open_whole_file(
    session: AsyncSession, row: FileAgent, content: str, max_files_open: int
) -> list[str]:
    view, _, _ = render_view(document_lines(content, row.file_name), row.file_name)
    return await open_files_store.open_row(session, row, view, None, None, max_files_open)


async def open_in_attached_agents(session: AsyncSession, org_id: str, file: FolderFile, content: str) -> None:
    """Once a file's text exists, every agent with its folder gets it open (before embedding, as in Letta)."""
    for agent_id in await folder_store.folder_agent_ids(session, org_id, file.folder_id, limit=10_000):
        agent = await agent_store.get_agent(session, org_id, agent_id)
        await open_files_store.ensure_rows(
            session, org_id, agent_id, [(file.id, file.folder_id, file.file_name)]
        )
        row = await open_files_store.get_row(session, org_id, agent_id, file.id)
        await open_whole_file(session, row, content, agent_file_limits(agent)[0])
