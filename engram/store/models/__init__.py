"""All tables; importing this package registers them on `Base.metadata` (Alembic reads it)."""

from engram.store.models.agent import Agent, AgentBlock, AgentTool
from engram.store.models.base import Base
from engram.store.models.block import Block, MemoryOp
from engram.store.models.conversation import Conversation
from engram.store.models.folder import AgentFolder, FileAgent, FilePassage, Folder, FolderFile
from engram.store.models.mcp_server import McpServer
from engram.store.models.message import Message
from engram.store.models.message_embedding import MessageEmbedding
from engram.store.models.passage import AgentArchive, Archive, Passage
from engram.store.models.run import Run, RunEvent, Step
from engram.store.models.scheduled_message import ScheduledMessage
from engram.store.models.sleeptime import SleeptimeGroup, SleeptimeThread
from engram.store.models.tenancy import ApiKey, Organization
from engram.store.models.tool import Tool

__all__ = [
    "AgentFolder", "FileAgent", "FilePassage", "Folder", "FolderFile",
    "Agent", "AgentArchive", "AgentBlock", "AgentTool", "ApiKey", "Archive", "Base", "Block", "Conversation",
    "McpServer", "MemoryOp", "Message", "MessageEmbedding", "Organization", "Passage", "Run", "RunEvent", "ScheduledMessage", "SleeptimeGroup", "SleeptimeThread", "Step", "Tool",
]  # fmt: skip
