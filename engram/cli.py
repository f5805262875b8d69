"""The `engram` command: up, status, chat, db upgrade, keys, and the single components (api, worker).

argparse keeps the CLI dependency-free. Commands that may import temporalio (api, worker) leave with
`os._exit`, because the SDK can crash the interpreter at exit (sdk-python#300) after a clean run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata

from pydantic import ValidationError

from engram.config import Settings


def _out(text: str = "", *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _version() -> str:
    try:
        return metadata.version("engram")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from engram.runtime.supervisor import run_up

    agent = args.agent if args.chat else None
    return run_up(settings, verbose=args.verbose, chat_agent=agent)


def cmd_status(_args: argparse.Namespace, settings: Settings) -> int:
    import httpx
    import psutil

    from engram.runtime.processes import split_host_port, tcp_reachable
    from engram.runtime.supervisor import read_state, state_path

    state = read_state(settings)
    pid = state.get("pid")
    up_alive = isinstance(pid, int) and psutil.pid_exists(pid)
    if up_alive:
        _out(f"engram up: running (pid {pid}, data dir {state.get('data_dir')})")
    elif state:
        _out(f"engram up: not running (stale {state_path(settings)})")
    else:
        _out(f"engram up: not running from {settings.data_dir.absolute()} (no {state_path(settings).name})")

    api_url = str(state.get("api_url") or settings.api_url)
    try:
        health = httpx.get(f"{api_url}/v1/health/", timeout=3.0).json()
        api_line, api_ok = f"ok (version {health.get('version')})", True
    except (httpx.HTTPError, ValueError) as exc:
        api_line, api_ok = f"not answering ({type(exc).__name__})", False
    _out(f"  API       {api_url}  {api_line}" + (f"   docs: {api_url}/docs" if api_ok else ""))

    address = str(state.get("temporal_address") or settings.temporal_target)
    t_ok = tcp_reachable(*split_host_port(address))
    ui = state.get("temporal_ui") or (None if settings.temporal_address else settings.temporal_ui_base)
    _out(
        f"  Temporal  {address}  {'reachable' if t_ok else 'not reachable'}" + (f"   UI: {ui}" if ui else "")
    )

    db = state.get("database") or (
        "ENGRAM_DATABASE_URL" if settings.database_url else f"embedded ({settings.pgdata_dir})"
    )
    pg_pid = state.get("postgres_pid")
    pg_line = "" if not isinstance(pg_pid, int) else (" running" if psutil.pid_exists(pg_pid) else " stopped")
    _out(f"  Postgres  {db}{pg_line}")
    children = state.get("children")
    if isinstance(children, dict):
        for name, child_pid in children.items():
            alive = isinstance(child_pid, int) and psutil.pid_exists(child_pid)
            _out(f"  {name:<9} pid {child_pid}  {'running' if alive else 'gone'}")
    if state.get("logs"):
        _out(f"  logs      {state['logs']}")
    return 0 if api_ok and t_ok else 1


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from engram.runtime.chat import run_chat
    from engram.runtime.supervisor import read_state

    url = args.url or str(read_state(settings).get("api_url") or settings.api_url)
    return run_chat(url, args.agent, settings=settings, model=args.model)


@contextmanager
def _database(url: str | None, settings: Settings) -> Iterator[str]:
    """The database to work on: `url`, ENGRAM_DATABASE_URL, or the embedded one (started if needed)."""
    from engram.runtime.supervisor import APP_DATABASE

    url = url or settings.database_url
    if url:
        yield url
        return
    from engram.runtime.embedded_postgres import start_embedded_postgres

    server = start_embedded_postgres(settings.pgdata_dir)
    try:
        yield server.create_database(APP_DATABASE)
    finally:
        if not server.adopted:
            server.stop()


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from engram.errors import VectorExtensionMissing
    from engram.runtime.supervisor import redact
    from engram.store.migrate import current_revision, upgrade

    with _database(args.url, settings) as url:
        try:
            upgrade(url)
            _out(f"{redact(url)}: at revision {current_revision(url)}")
        except VectorExtensionMissing as exc:
            _out(f"error: {exc}", err=True)
            return 1
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from engram.errors import EngramError
    from engram.runtime.keys import run_keys_command

    with _database(args.url, settings) as url:
        try:
            for line in asyncio.run(run_keys_command(url, args.keys_command, args.target, args.name)):
                _out(line)
        except EngramError as exc:
            _out(f"error: {exc}", err=True)
            return 1
    return 0


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    from engram.runtime.schedule_cmd import run_schedule_command
    from engram.runtime.supervisor import read_state

    url = args.url or str(read_state(settings).get("api_url") or settings.api_url)
    code, text = run_schedule_command(args, url, settings)
    _out(text, err=code != 0)
    return code


def cmd_files(args: argparse.Namespace, settings: Settings) -> int:
    from engram.runtime.files_cmd import run_files_command
    from engram.runtime.supervisor import read_state

    return run_files_command(args, args.url or str(read_state(settings).get("api_url") or settings.api_url), settings)


def cmd_api(_args: argparse.Namespace, settings: Settings) -> int:
    """Only the API (what docker-compose runs); same loopback rule as `engram up`."""
    import uvicorn

    from engram.runtime.supervisor import api_bind_host

    host = api_bind_host(settings)
    if host != settings.api_host:
        _out(f"no ENGRAM_API_KEY: refusing to listen on {settings.api_host}; binding {host} only", err=True)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=settings.api_port, proxy_headers=True)
    return 0


def cmd_worker(_args: argparse.Namespace, _settings: Settings) -> int:
    """Only the Temporal worker (what docker-compose runs)."""
    import worker

    worker.main()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engram", description="Durable, stateful agents with self-editing memory."
    )
    parser.add_argument("--version", action="version", version=f"engram {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start Postgres, Temporal, the worker and the API in the foreground")
    up.add_argument(
        "--chat", action="store_true", help="chat in this terminal once up; stop everything on exit"
    )
    up.add_argument("--agent", default=None, help="agent for --chat (default engram-quickstart)")
    up.add_argument("-v", "--verbose", action="store_true", help="children log to this console, not to files")
    up.set_defaults(func=cmd_up)

    status = sub.add_parser("status", help="what is running and where")
    status.set_defaults(func=cmd_status)

    chat = sub.add_parser("chat", help="chat with an agent through the API (created on first use)")
    chat.add_argument("--agent", default=None, help="agent name (default engram-quickstart)")
    chat.add_argument(
        "--model", default=None, help="model handle for a new agent (default ENGRAM_DEFAULT_MODEL)"
    )
    chat.add_argument("--url", default=None, help="API base URL (default: the running stack's)")
    chat.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser(
        "upgrade", help="run migrations (embedded database unless --url/ENGRAM_DATABASE_URL)"
    )
    upgrade.add_argument("--url", default=None, help="SQLAlchemy or libpq URL of the database to migrate")
    upgrade.set_defaults(func=cmd_db_upgrade)

    keys = sub.add_parser("keys", help="organizations and API keys (multi-tenant mode, ENGRAM_ADMIN_KEY)")
    keys.add_argument("keys_command", choices=["create-org", "list-orgs", "issue", "list", "revoke"],
                      help="create-org NAME | list-orgs | issue ORG_ID [--name N] | list ORG_ID | revoke KEY_ID")
    keys.add_argument("target", nargs="?", default="", help="organization name, organization id or key id")
    keys.add_argument("--name", default="", help="a label for an issued key")
    keys.add_argument("--url", default=None, help="database URL (default ENGRAM_DATABASE_URL or the embedded one)")
    keys.set_defaults(func=cmd_keys)

    from engram.runtime.schedule_cmd import add_parser as add_schedule_parser

    add_schedule_parser(sub, cmd_schedule)

    from engram.runtime.files_cmd import add_parser as add_files_parser

    add_files_parser(sub, cmd_files)

    sub.add_parser("api", help="run only the API server (docker-compose)").set_defaults(func=cmd_api)
    sub.add_parser("worker", help="run only the Temporal worker (docker-compose)").set_defaults(
        func=cmd_worker
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if getattr(args, "agent", "x") is None:
        from engram.runtime.chat import DEFAULT_AGENT

        args.agent = DEFAULT_AGENT
    try:
        settings = Settings()
    except ValidationError as exc:
        _out(f"error: invalid configuration (ENGRAM_* environment or .env):\n{exc}", err=True)
        sys.exit(2)
    try:
        code = args.func(args, settings)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    if "temporalio" in sys.modules:
        os._exit(code)  # sdk-python#300: the SDK can abort the interpreter at exit
    sys.exit(code)


if __name__ == "__main__":
    main()
