"""Every Letta resource router, mounted under /v1 (one line per router)."""

from fastapi import APIRouter

from api.routes import agent_blocks, agent_file, agent_tools, agents, blocks, health, models, passages, tools
from api.routes import messages as messages_routes
from api.routes import runs as runs_routes

router = APIRouter(prefix="/v1")
router.include_router(health.router)
router.include_router(agent_file.router)  # before agents: /agents/import must not read as an agent id
router.include_router(agents.router)
router.include_router(agent_blocks.router)
router.include_router(agent_tools.router)
router.include_router(passages.router)
router.include_router(blocks.router)
router.include_router(tools.router)
router.include_router(models.router)
router.include_router(messages_routes.router)
router.include_router(runs_routes.router)
