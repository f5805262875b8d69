"""Every Letta resource router, mounted under /v1 (one line per router)."""

from fastapi import APIRouter

from api.routes import health
from api.routes import messages as messages_routes
from api.routes import runs as runs_routes

router = APIRouter(prefix="/v1")
router.include_router(health.router)
router.include_router(messages_routes.router)
router.include_router(runs_routes.router)
