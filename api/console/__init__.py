"""The Engram console: a browser view of the agents on this server, served by the API process.

`mount_console(app)` adds the static assets at /console/static, the HTML fragments at /console/_f (behind
the same API-key check as /v1), and the shell at / and /console/*. Everything is vendored here: no CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console.views import fragments, shell

STATIC = Path(__file__).parent / "static"


def mount_console(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(fragments)
    app.include_router(shell)  # last: its /console/{path} catches every other console address
