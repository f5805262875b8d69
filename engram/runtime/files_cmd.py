"""`engram files upload FOLDER PATH...`: upload documents to a folder (created by name if missing) and show one
progress bar per file (chunks embedded / total) until every file is completed or failed.

    engram files upload papers ./memgpt.pdf ./notes.md
    papers/memgpt.pdf  [##############----------]   34/58 chunks  embedding
    papers/notes.md    [########################]   25/25 chunks  completed

Talks to the REST API with the same paths letta-client uses. Exit status 0 when every file completed.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import httpx

from engram.config import Settings

BAR_WIDTH = 24
TERMINAL = ("completed", "error")


class FilesError(Exception):
    """The API refused or could not be reached; the message says why."""


def add_parser(sub: Any, handler: Callable[[argparse.Namespace, Settings], int]) -> None:
    p = sub.add_parser("files", help="folder files: upload documents and watch their ingestion")
    p.add_argument("action", choices=("upload",))
    p.add_argument("folder", help="folder name (created if missing) or folder id (source-...)")
    p.add_argument("paths", nargs="+", type=Path, help="files to upload")
    p.add_argument("--duplicate-handling", choices=("suffix", "skip", "error", "replace"), default="suffix")
    p.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds to wait for ingestion (default 1800)"
    )
    p.add_argument("--url", default=None, help="API base URL (default: the running stack's)")
    p.set_defaults(func=handler)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise FilesError(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}: {detail}"
        )
    return response.json() if response.content else None


def _folder_id(http: httpx.Client, folder: str) -> str:
    if folder.startswith("source-"):
        return str(_check(http.get(f"/v1/folders/{folder}"))["id"])
    found = _check(http.get("/v1/folders/", params={"name": folder}))
    if found:
        return str(found[0]["id"])
    return str(_check(http.post("/v1/folders/", json={"name": folder}))["id"])


def render_bar(name: str, file: dict[str, Any], width: int) -> str:
    total, done = file.get("total_chunks") or 0, file.get("chunks_embedded") or 0
    status = str(file.get("processing_status") or "pending")
    filled = BAR_WIDTH if status == "completed" else (BAR_WIDTH * done // total if total else 0)
    line = f"{name:<{width}}  [{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  {done:>4}/{total:<4} chunks  {status}"
    if status == "error":
        line += f": {file.get('error_message') or 'unknown error'}"
    return line


def upload_files(
    base_url: str, api_key: str | None, folder: str, paths: list[Path], *, duplicate_handling: str = "suffix",
    out: TextIO = sys.stdout, poll_s: float = 0.25, timeout_s: float = 1800.0,
) -> int:  # fmt: skip
    """Upload, then redraw the bars until all files are done; 0 when all completed, 1 otherwise."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=300.0) as http:
        folder_id = _folder_id(http, folder)
        uploads: list[tuple[str, dict[str, Any]]] = []
        for path in paths:
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            with path.open("rb") as handle:
                file = _check(http.post(f"/v1/folders/{folder_id}/upload", params={"duplicate_handling": duplicate_handling},
                                        files={"file": (path.name, handle, mime)}))  # fmt: skip
            uploads.append((str(file.get("file_name") or path.name), file))
        return _watch(http, folder_id, uploads, out, poll_s, timeout_s)


def _watch(
    http: httpx.Client, folder_id: str, uploads: list[tuple[str, dict[str, Any]]], out: TextIO, poll_s: float,
    timeout_s: float,
) -> int:  # fmt: skip
    width = max(len(name) for name, _ in uploads)
    is_tty = out.isatty()
    shown: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    states = dict(uploads)
    while True:
        for name, file in uploads:
            if states[name].get("processing_status") not in TERMINAL:
                states[name] = _check(http.get(f"/v1/folders/{folder_id}/files/{file['id']}"))
        lines = [render_bar(name, states[name], width) for name, _ in uploads]
        if is_tty:
            if shown:
                out.write(f"\x1b[{len(lines)}F")  # back to the first bar and redraw them all
            out.write("".join(f"\x1b[2K{line}\n" for line in lines))
        else:  # a log or a pipe: one line per change
            out.write(
                "".join(
                    f"{line}\n"
                    for line, (name, _) in zip(lines, uploads, strict=True)
                    if shown.get(name) != line
                )
            )
        shown = {name: line for line, (name, _) in zip(lines, uploads, strict=True)}
        out.flush()
        if (
            all(s.get("processing_status") in TERMINAL for s in states.values())
            or time.monotonic() > deadline
        ):
            break
        time.sleep(poll_s)
    return 0 if all(s.get("processing_status") == "completed" for s in states.values()) else 1


def run_files_command(args: argparse.Namespace, base_url: str, settings: Settings) -> int:
    key = settings.api_key.get_secret_value() if settings.api_key else None
    missing = [str(p) for p in args.paths if not p.is_file()]
    if missing:
        sys.stderr.write(f"error: not a file: {', '.join(missing)}\n")
        return 2
    try:
        return upload_files(base_url, key, args.folder, list(args.paths), duplicate_handling=args.duplicate_handling,
                            timeout_s=args.timeout)  # fmt: skip
    except FilesError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except httpx.HTTPError as exc:
        sys.stderr.write(
            f"error: the API at {base_url} did not answer ({type(exc).__name__}); is `engram up` running?\n"
        )
        return 1
