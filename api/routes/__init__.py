"""Every Letta resource router, mounted under /v1 (one line per router)."""

from fastapi import APIRouter, Depends

from api.auth import require_api_key
from api.routes import (
    admin,
    agent_blocks,
    agent_file,
    agent_folders,
    agent_tools,
    agents,
    archives,
    blocks,
    context,
    folders,
    health,
    mcp_servers,
    models,
    passages,
    sleeptime,
    tool_outputs,
    tools,
)
from api.routes import conversations as conversations_routes
from api.routes import messages as messages_routes
from api.routes import runs as runs_routes
from api.routes import schedules as schedules_routes

router = APIRouter(prefix="/v1")
router.include_router(health.router)  # open: probes need no key

protected = APIRouter(dependencies=[Depends(require_api_key)])
protected.include_router(agent_file.router)  # before agents: /agents/import must not read as an agent id
protected.include_router(agents.router)
protected.include_router(agent_blocks.router)
protected.include_router(agent_tools.router)
protected.include_router(context.router)
protected.include_router(passages.router)
protected.include_router(archives.router)
protected.include_router(blocks.router)
protected.include_router(tools.router)
protected.include_router(mcp_servers.router)
protected.include_router(tool_outputs.router)
protected.include_router(models.router)
protected.include_router(messages_routes.router)
protected.include_router(runs_routes.router)
protected.include_router(conversations_routes.router)
protected.include_router(admin.router)
protected.include_router(schedules_routes.router)
protected.include_router(sleeptime.router)
protected.include_router(folders.router)
protected.include_router(agent_folders.router)
router.include_router(protected)
