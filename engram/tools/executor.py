"""Built-in tool execution: send_message and the core-memory tools, applied once per op id.

Every memory edit is compare-and-set on the block version (re-read and retry on a lost race) and is
recorded in `memory_ops` under an op id the loop derives from run/step/tool call, so a retried tool
call returns the first result without editing twice. Mistakes the model can fix come back as
`ToolResult(is_error=True)`; nothing the model sends raises.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import NotFound
from engram.schemas.agent import BlockSpec
from engram.store import blocks as block_store
from engram.store.models import Block, MemoryOp
from engram.tools import file_tools, memory_search, memory_tools, wakeup
from engram.tools.memory_tools import ToolError

CAS_ATTEMPTS = 8
SEND_MESSAGE_RESULT = "Sent message successfully."


@dataclass
class ToolResult:
    text: str
    is_error: bool = False
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    full_text: str | None = None  # the untruncated return when `text` was cut to the tool's return_char_limit


@dataclass
class ToolContext:
    session: AsyncSession
    org_id: str
    agent_id: str
    op_id: str  # idempotency key of this call (derived from run, step and tool call id)
    settings: Any = None  # engram.config.Settings: embedders for the archival tools
    conversation_id: str | None = None  # the thread being served (None = the agent's own); recall stays in it


Edit = Callable[[str], str]


async def _edit_block(ctx: ToolContext, label: str, edit: Edit, *, create: bool = False) -> str:
    """Apply `edit` to the block's value with CAS; returns the new value."""
    for _ in range(CAS_ATTEMPTS):
        try:
            block = await block_store.get_agent_block_by_label(ctx.session, ctx.org_id, ctx.agent_id, label)
        except NotFound:
            if not create:
                raise ToolError(f"Error: memory block with label '{label}' not found") from None
            block = await block_store.create_block(ctx.session, ctx.org_id, BlockSpec(label=label, value=""))
            await block_store.attach_block(ctx.session, ctx.org_id, ctx.agent_id, block.id)
        await ctx.session.refresh(block)
        if block.read_only:
            raise ToolError("Error This block is read-only and cannot be edited.")
        new_value = edit(block.value)
        if len(new_value) > block.limit:
            raise ToolError(
                f"Edit failed: Exceeds {block.limit} character limit (requested {len(new_value)}) for memory block "
                f"'{label}'. Shorten the text or remove other content first."
            )
        if await block_store.compare_and_set_value(ctx.session, ctx.org_id, block.id, block.version, new_value):
            return new_value
    raise ToolError(f"Error: memory block '{label}' kept changing while editing; try again")


async def send_message(ctx: ToolContext, message: str) -> str:  # noqa: ARG001 - the loop renders it
    return SEND_MESSAGE_RESULT


async def core_memory_append(ctx: ToolContext, label: str, content: str) -> str:
    return await _edit_block(ctx, label, lambda v: memory_tools.append(v, content))


async def core_memory_replace(ctx: ToolContext, label: str, old_content: str, new_content: str) -> str:
    return await _edit_block(ctx, label, lambda v: memory_tools.replace_all(v, label, old_content, new_content))


async def memory_replace(ctx: ToolContext, label: str, old_string: str, new_string: str) -> str:
    return await _edit_block(ctx, label, lambda v: memory_tools.replace_once(v, label, old_string, new_string))


async def memory_insert(ctx: ToolContext, label: str, new_string: str, insert_line: int = -1) -> str:
    line = int(insert_line)
    return await _edit_block(ctx, label, lambda v: memory_tools.insert(v, label, new_string, line))


async def memory_rethink(ctx: ToolContext, label: str, new_memory: str) -> str:
    return await _edit_block(ctx, label, lambda _v: new_memory, create=True)


async def memory_finish_edits(ctx: ToolContext) -> str:  # noqa: ARG001
    return "None"


EXECUTORS: dict[str, Callable[..., Awaitable[str]]] = {
    f.__name__: f
    for f in (send_message, core_memory_append, core_memory_replace, memory_replace, memory_insert,
              memory_rethink, memory_finish_edits, memory_search.conversation_search,
              memory_search.archival_memory_insert, memory_search.archival_memory_search, wakeup.schedule_wakeup,
              file_tools.open_files, file_tools.grep_files, file_tools.semantic_search_files)
}  # fmt: skip
MEMORY_EDITING = frozenset(EXECUTORS) - {
    "send_message", "memory_finish_edits", "conversation_search", "archival_memory_insert", "archival_memory_search",
    wakeup.WAKEUP_TOOL, "open_files", "grep_files", "semantic_search_files",
}  # archival inserts are idempotent through passage ids derived from the op id


def can_execute(name: str) -> bool:
    return name in EXECUTORS


async def execute_builtin(ctx: ToolContext, name: str, args: dict[str, Any]) -> ToolResult:
    """Run a built-in once per `ctx.op_id`; model mistakes and tool exceptions become error results."""
    if name in MEMORY_EDITING:
        done = await ctx.session.scalar(select(MemoryOp).where(MemoryOp.op_id == ctx.op_id))
        if done is not None:
            return ToolResult(done.result.get("text", ""), bool(done.result.get("is_error")))
    fn = EXECUTORS[name]
    try:
        inspect.signature(fn).bind(ctx, **args)
    except TypeError as exc:
        return ToolResult(f"Error executing function {name}: TypeError: {exc}", True, [f"TypeError: {exc}"])
    try:
        async with ctx.session.begin_nested():  # a failed edit rolls back alone; the tool row still gets written
            result = ToolResult(await fn(ctx, **args))
    except ToolError as exc:
        result = ToolResult(str(exc), True)
    except Exception as exc:  # noqa: BLE001 - any tool failure is reported to the model, never raised
        detail = f"Error executing function {name}: {type(exc).__name__}: {exc}"[:1000]
        result = ToolResult(detail, True, [detail])
    if name in MEMORY_EDITING:
        block_id = await _block_id(ctx, args.get("label"))
        await ctx.session.execute(
            pg_insert(MemoryOp)
            .values(op_id=ctx.op_id, organization_id=ctx.org_id, block_id=block_id,
                    result={"text": result.text, "is_error": result.is_error})
            .on_conflict_do_nothing()
        )  # fmt: skip
    return result


async def _block_id(ctx: ToolContext, label: Any) -> str | None:
    if not isinstance(label, str):
        return None
    try:
        block: Block = await block_store.get_agent_block_by_label(ctx.session, ctx.org_id, ctx.agent_id, label)
    except NotFound:
        return None
    return block.id
