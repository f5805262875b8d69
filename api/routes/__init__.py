"""Every Letta resource router, mounted under /v1 (one line per router)."""

from fastapi import APIRouter

from api.routes import health

router = APIRouter(prefix="/v1")
router.include_router(health.router)
