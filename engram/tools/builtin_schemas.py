"""What the LLM sees of Engram's built-in tools: Letta's names, arguments and tool types.

Descriptions are ours; argument names and semantics follow Letta (reference B.3) so agent files and
prompts written for Letta keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BuiltinTool:
    name: str
    tool_type: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...] = ()
    is_terminal: bool = False  # ends the turn under the base tool rules (send_message, memory_finish_edits)
    unavailable: str | None = None  # attachable (Letta agents name it) but answers with this error when called
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json_schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": {"type": "object", "properties": self.properties, "required": list(self.required)},
        }


def _s(desc: str) -> dict[str, Any]:
    return {"type": "string", "description": desc}


BUILTIN_TOOLS: tuple[BuiltinTool, ...] = (
    BuiltinTool(
        "send_message", "letta_core", "Sends a message to the human user.",
        {"message": _s("Message contents. All unicode (including emojis) are supported.")}, ("message",),
        is_terminal=True,
    ),
    BuiltinTool(
        "conversation_search", "letta_core",
        "Search prior conversation history (recall memory) using hybrid text and semantic search.",
        {
            "query": _s("String to search for, by meaning and by words."),
            "roles": {"type": "array", "items": {"type": "string", "enum": ["assistant", "user", "tool"]},
                      "description": "Only return messages from these roles."},
            "limit": {"type": "integer", "description": "Maximum number of results (default 5)."},
            "start_date": _s("Only messages on or after this ISO date/datetime (a date includes the whole day)."),
            "end_date": _s("Only messages on or before this ISO date/datetime (a date includes the whole day)."),
        },
    ),
    BuiltinTool(
        "archival_memory_insert", "letta_core",
        "Add information to long-term archival memory for later retrieval by archival_memory_search.",
        {"content": _s("Content to write to memory. Include everything needed to understand it later."),
         "tags": {"type": "array", "items": {"type": "string"}, "description": "Optional tags for filtering."}},
        ("content",),
    ),
    BuiltinTool(
        "archival_memory_search", "letta_core", "Search archival memory by meaning, optionally filtered by tags and dates.",
        {
            "query": _s("What to look for."),
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Only passages with these tags."},
            "tag_match_mode": {"type": "string", "enum": ["any", "all"], "description": "any (default) or all tags."},
            "top_k": {"type": "integer", "description": "Maximum number of results (default 5)."},
            "start_datetime": _s("Only passages created at or after this ISO datetime."),
            "end_datetime": _s("Only passages created at or before this ISO datetime."),
        },
        ("query",),
    ),
    BuiltinTool(
        "core_memory_append", "letta_memory_core", "Append to the contents of a core memory block.",
        {"label": _s("Label of the memory block to edit."), "content": _s("Content to append, on a new line.")},
        ("label", "content"),
    ),
    BuiltinTool(
        "core_memory_replace", "letta_memory_core",
        "Replace text in a core memory block. To delete text, use an empty string as new_content.",
        {"label": _s("Label of the memory block to edit."), "old_content": _s("Exact text to replace."),
         "new_content": _s("Replacement text.")},
        ("label", "old_content", "new_content"),
    ),
    BuiltinTool(
        "memory_replace", "letta_memory_core",
        "Replace one exact occurrence of old_string with new_string in a memory block. old_string must appear "
        "exactly once; do not include line-number prefixes.",
        {"label": _s("Label of the memory block to edit."), "old_string": _s("Exact text to replace (must be unique)."),
         "new_string": _s("Text to put in its place.")},
        ("label", "old_string", "new_string"),
    ),
    BuiltinTool(
        "memory_insert", "letta_memory_core", "Insert text into a memory block after a given line.",
        {"label": _s("Label of the memory block to edit."), "new_string": _s("Text to insert."),
         "insert_line": {"type": "integer",
                         "description": "Line number after which to insert (0 = top of block, -1 = end, the default)."}},
        ("label", "new_string"),
    ),
    BuiltinTool(
        "memory_rethink", "letta_sleeptime_core",
        "Rewrite a whole memory block with new, reorganised contents (creates the block if it does not exist).",
        {"label": _s("Label of the memory block to rewrite."), "new_memory": _s("The complete new contents.")},
        ("label", "new_memory"),
    ),
    BuiltinTool(
        "memory_finish_edits", "letta_sleeptime_core", "Call when you have finished editing memory.", {}, (),
        is_terminal=True,
    ),
    BuiltinTool(
        "schedule_wakeup", "letta_builtin",
        "Ask to be woken up later: at that time you get a new turn with a wake-up message carrying the reason. "
        "Give exactly one of after_seconds or at. Pending wake-ups are listed (and cancelled) with the agent's "
        "scheduled messages.",
        {"reason": _s("What to do or remember when you wake up."),
         "after_seconds": {"type": "number", "description": "Wake up this many seconds from now."},
         "at": _s("Wake up at this ISO 8601 time (your time zone when it has no offset).")},
        ("reason",),
    ),
    # Letta's multi-agent tools (engram/tools/multi_agent.py): messages stay inside the caller's organization.
    BuiltinTool(
        "send_message_to_agent_and_wait_for_reply", "letta_multi_agent_core",
        "Send a message to another agent and wait for its reply. The other agent sees that the message came from "
        "you; its reply is returned as {agent_id, response: [texts]}.",
        {"message": _s("The message to send."), "other_agent_id": _s("The id of the agent to message.")},
        ("message", "other_agent_id"),
    ),
    BuiltinTool(
        "send_message_to_agent_async", "letta_multi_agent_core",
        "Send a one-way message to another agent and continue at once, without waiting for a reply.",
        {"message": _s("The message to send."), "other_agent_id": _s("The id of the agent to message.")},
        ("message", "other_agent_id"), is_terminal=True,
    ),
    BuiltinTool(
        "send_message_to_agents_matching_tags", "letta_multi_agent_core",
        "Send a message to every agent that has all of the match_all tags and at least one of the match_some "
        "tags, wait for all of them, and return their replies.",
        {"message": _s("The message to send."),
         "match_all": {"type": "array", "items": {"type": "string"}, "description": "Tags every recipient must have."},
         "match_some": {"type": "array", "items": {"type": "string"},
                        "description": "Tags of which every recipient must have at least one."}},
        ("message", "match_all", "match_some"),
    ),
    # Letta's file tools (tool_type letta_files_core): attached with a folder, detached with the last one.
    BuiltinTool(
        "open_files", "letta_files_core",
        "Open one or more files from your attached folders so their contents appear in the files section of your "
        "context, optionally only a range of lines. Opening more files than the open-file limit closes the least "
        "recently used ones.",
        {
            "file_requests": {
                "type": "array",
                "items": {"type": "object", "properties": {
                    "file_name": _s("Name of the file to open, as listed in your directories (folder/file)."),
                    "offset": {"type": "integer", "description": "Optional 0-based line to start from (default: the start)."},
                    "length": {"type": "integer", "description": "Optional number of lines to show (default: to the end)."},
                }, "required": ["file_name"]},
                "description": "The files to open, each with an optional line range.",
            },
            "close_all_others": {"type": "boolean", "description": "Close every other open file first (default false)."},
        },
        ("file_requests",),
    ),
    BuiltinTool(
        "grep_files", "letta_files_core",
        "Search the lines of your attached files for a keyword or regular expression (case-insensitive), with "
        "surrounding context. Results come 20 matches per call; use offset for the next page.",
        {
            "pattern": _s("Keyword or regex pattern to search within file contents."),
            "include": _s("Optional keyword, regex or glob (e.g. '*.md') the file names must match."),
            "context_lines": {"type": "integer", "description": "Lines of context before and after each match (default 1)."},
            "offset": {"type": "integer", "description": "Number of matches to skip, for paging (default 0)."},
        },
        ("pattern",),
    ),
    BuiltinTool(
        "semantic_search_files", "letta_files_core",
        "Search your attached files by meaning rather than exact words; returns the most relevant passages.",
        {"query": _s("The search query text to find semantically similar content."),
         "limit": {"type": "integer", "description": "Maximum number of results to return (default: 5)."}},
        ("query",),
    ),
    # Letta's server-side built-ins: accepted so Letta code and agent files attach them unchanged; they need a
    # search provider, network or a code sandbox, which this server does not provide yet.
    BuiltinTool(
        "web_search", "letta_builtin", "Search the web and return the top results.",
        {"query": _s("What to search for.")}, ("query",),
        unavailable="web search is not configured on this Engram server",
    ),
    BuiltinTool(
        "fetch_webpage", "letta_builtin", "Fetch a web page and return its text.",
        {"url": _s("The URL to fetch.")}, ("url",),
        unavailable="fetching web pages is not configured on this Engram server",
    ),
    BuiltinTool(
        "run_code", "letta_builtin", "Run code in a sandbox and return its output.",
        {"code": _s("The source code to run."), "language": _s("python, js, ts, r or java.")}, ("code", "language"),
        unavailable="code execution is not configured on this Engram server",
    ),
)  # fmt: skip

BUILTINS_BY_NAME = {tool.name: tool for tool in BUILTIN_TOOLS}

# Default tool sets per agent type (Letta 0.16 B.2).
BASE_TOOLS_BY_AGENT_TYPE: dict[str, tuple[str, ...]] = {
    "memgpt_agent": ("send_message", "conversation_search", "core_memory_append", "core_memory_replace"),
    "memgpt_v2_agent": ("send_message", "conversation_search", "memory_replace", "memory_insert"),
    "letta_v1_agent": ("conversation_search", "memory_replace", "memory_insert"),
    "sleeptime_agent": ("memory_replace", "memory_insert", "memory_rethink", "memory_finish_edits"),
    "react_agent": (),
    "workflow_agent": (),
}
SLEEPTIME_CHAT_TOOLS = ("send_message", "conversation_search", "archival_memory_search")


def base_tool_names(agent_type: str, *, enable_sleeptime: bool = False) -> tuple[str, ...]:
    if enable_sleeptime and agent_type != "sleeptime_agent":
        return SLEEPTIME_CHAT_TOOLS
    return BASE_TOOLS_BY_AGENT_TYPE.get(agent_type, BASE_TOOLS_BY_AGENT_TYPE["memgpt_v2_agent"])
