"""`engram up`: start Postgres, migrations, Temporal, the worker and the API in order; stop them in reverse.

The supervisor owns every process it starts. It holds a lock on the data dir (one `up` per data dir),
writes `<data_dir>/engram-up.json` for `engram status`, and returns non-zero naming the component when a
port is taken or a child dies. Children run in their own process groups, so Ctrl-C reaches only this
process, which stops them in order: API, worker, Temporal, Postgres.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from engram.config import Settings
from engram.runtime.embedded_postgres import EmbeddedPostgres, start_embedded_postgres
from engram.runtime.processes import Child, StartupError, ensure_ports_free, spawn
from engram.runtime.temporal_server import TemporalDevServer, start_temporal_dev_server, wait_for_temporal

APP_DATABASE = "engram"
STATE_FILE = "engram-up.json"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
Say = Callable[[str], None]


def say_line(text: str) -> None:
    """Progress lines go out at once, also when stdout is a pipe (`engram up | tee up.log`)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class ShutdownRequested(BaseException):
    """SIGINT/SIGTERM/SIGHUP, raised like KeyboardInterrupt so start-up steps are interrupted too."""


class ChildDied(StartupError):
    """A supervised process exited while the stack should be running."""


def redact(url: str) -> str:
    """Hide the password of a database URL before printing it."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


def api_bind_host(settings: Settings) -> str:
    """Without an API key the API has no authentication, so it may only listen on loopback."""
    if settings.api_key is None and settings.api_host not in LOOPBACK:
        return "127.0.0.1"
    return settings.api_host


def state_path(settings: Settings) -> Path:
    return settings.data_dir.absolute() / STATE_FILE


@dataclass
class Stack:
    """The running pieces; each is None until started (and when external)."""

    settings: Settings
    say: Say = say_line
    verbose: bool = False
    postgres: EmbeddedPostgres | None = None
    temporal: TemporalDevServer | None = None
    children: list[Child] = field(default_factory=list)
    database_url: str = ""
    temporal_address: str = ""
    api_host: str = "127.0.0.1"
    _lock: IO[str] | None = None

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.absolute()

    @property
    def api_url(self) -> str:
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '[::]') else host}:{self.settings.api_port}"

    def log_path(self, name: str) -> Path | None:
        return None if self.verbose else self.data_dir / "logs" / f"{name}.log"

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self.api_host = api_bind_host(s)
        if s.api_key is None:
            note = " (ENGRAM_API_HOST ignored)" if self.api_host != s.api_host else ""
            self.say(f"no ENGRAM_API_KEY: the API has no authentication and binds {self.api_host} only{note}")
        ports = {"API": (self.api_host, s.api_port, "set ENGRAM_API_PORT to another port")}
        if s.temporal_address is None:
            ports["Temporal gRPC"] = (
                "127.0.0.1",
                s.temporal_port,
                "set ENGRAM_TEMPORAL_PORT to another port",
            )
            ports["Temporal UI"] = (
                "127.0.0.1",
                s.temporal_ui_port,
                "set ENGRAM_TEMPORAL_UI_PORT to another port",
            )
        ensure_ports_free(ports)
        self._start_postgres()
        self._migrate()
        self._start_temporal()
        env = self._child_env()
        worker = self._spawn("worker", [sys.executable, "-m", "worker"], env)
        self.say(f"worker started (pid {worker.pid}, task queue {s.task_queue!r})")
        self._spawn("API", self._api_argv(), env)
        self._wait_for_api()
        self.say(f"API ready: {self.api_url}  docs: {self.api_url}/docs  console: {self.api_url}/console/")
        self._write_state()

    def _take_lock(self) -> None:
        lock = open(self.data_dir / ".engram-up.lock", "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            owner = read_state(self.settings).get("pid", "?")
            raise StartupError(
                f"another `engram up` (pid {owner}) is already using data dir {self.data_dir}; "
                "stop it first, or set ENGRAM_DATA_DIR to another directory"
            ) from None
        self._lock = lock

    def _start_postgres(self) -> None:
        s = self.settings
        if s.database_url:
            self.database_url = s.database_url
            self.say(f"postgres: using ENGRAM_DATABASE_URL {redact(s.database_url)}")
            return
        started = time.monotonic()
        self.postgres = start_embedded_postgres(s.pgdata_dir)
        self.database_url = self.postgres.create_database(APP_DATABASE)
        how = "already running, reused" if self.postgres.adopted else f"{time.monotonic() - started:.1f} s"
        self.say(f"postgres ready (embedded PostgreSQL 18 + pgvector, data {self.postgres.pgdata}, {how})")

    def _migrate(self) -> None:
        from engram.store.migrate import current_revision, upgrade

        upgrade(self.database_url)  # raises VectorExtensionMissing with the admin's command
        self.say(f"migrations applied (revision {current_revision(self.database_url)})")

    def _start_temporal(self) -> None:
        s = self.settings
        if s.temporal_address:
            self.temporal_address = s.temporal_address
            wait_for_temporal(s.temporal_address, s.temporal_namespace, timeout=30)
            self.say(
                f"temporal: using ENGRAM_TEMPORAL_ADDRESS {s.temporal_address} (namespace {s.temporal_namespace})"
            )
            return
        self.temporal = start_temporal_dev_server(
            db_file=s.temporal_db_file, port=s.temporal_port, ui_port=s.temporal_ui_port,
            namespace=s.temporal_namespace, log_path=self.log_path("temporal"),
        )  # fmt: skip
        self.temporal_address = self.temporal.address
        self.children.append(self.temporal.child)
        self.say(f"temporal ready: grpc {self.temporal.address}, UI {self.temporal.ui_url}")

    def _child_env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            ENGRAM_DATA_DIR=str(self.data_dir),
            ENGRAM_DATABASE_URL=self.database_url,
            ENGRAM_TEMPORAL_ADDRESS=self.temporal_address,
            ENGRAM_TEMPORAL_NAMESPACE=s.temporal_namespace,
            ENGRAM_TASK_QUEUE=s.task_queue,
            ENGRAM_API_HOST=self.api_host,
            ENGRAM_API_PORT=str(s.api_port),
            PYTHONUNBUFFERED="1",
        )
        if self.temporal is not None and self.temporal.ui_url:
            env["ENGRAM_TEMPORAL_UI_URL"] = self.temporal.ui_url
        return env

    def _api_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
            "--host", self.api_host, "--port", str(self.settings.api_port), "--log-level", "info",
        ]  # fmt: skip

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = spawn(name, argv, env=env, log_path=self.log_path(name.lower()))
        self.children.append(child)
        return child

    def _wait_for_api(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as http:
            while True:
                self.check()
                try:
                    if http.get(f"{self.api_url}/v1/health/").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise StartupError(f"API did not answer {self.api_url}/v1/health/ within {timeout:.0f} s")
                time.sleep(0.2)

    # -- run -----------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ChildDied naming the first component that is gone."""
        for child in self.children:
            code = child.exited()
            if code is not None:
                where = f"; last lines of {child.log_path}:\n{child.log_tail()}" if child.log_path else ""
                raise ChildDied(f"{child.name} exited unexpectedly with code {code}{where}")
        if self.postgres is not None and not self.postgres.is_running():
            log = self.postgres.pgdata / "postgresql.log"
            from engram.runtime.processes import tail

            raise ChildDied(
                f"embedded Postgres (pid {self.postgres.pid}) stopped; last lines of {log}:\n{tail(log)}"
            )

    def wait(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Block until `stop` is set or a component dies (ChildDied)."""
        while not stop.wait(poll_s):
            self.check()

    # -- stop ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Reverse order: API, worker, Temporal, Postgres. Safe to call after a partial start."""
        for child in reversed(self.children):
            child.stop(timeout=15.0 if child.name == "worker" else 10.0)
        self.children.clear()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self._lock is not None:  # only the lock holder owns the state file
            state_path(self.settings).unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def _write_state(self) -> None:
        s = self.settings
        state = {
            "pid": os.getpid(),
            "started_at": time.time(),
            "data_dir": str(self.data_dir),
            "api_url": self.api_url,
            "database": redact(self.database_url),
            "postgres_pid": self.postgres.pid if self.postgres else None,
            "temporal_address": self.temporal_address,
            "temporal_namespace": s.temporal_namespace,
            "temporal_ui": self.temporal.ui_url if self.temporal else None,
            "children": {c.name: c.pid for c in self.children},
            "logs": str(self.data_dir / "logs") if not self.verbose else None,
        }
        tmp = state_path(s).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(state_path(s))


def read_state(settings: Settings) -> dict[str, object]:
    try:
        return dict(json.loads(state_path(settings).read_text()))
    except (OSError, ValueError):
        return {}


def run_up(
    settings: Settings, *, verbose: bool = False, chat_agent: str | None = None, say: Say = say_line
) -> int:
    """Foreground `engram up`; with `chat_agent`, chat in this terminal and stop the stack when chat ends."""
    from engram.errors import VectorExtensionMissing

    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()
        raise ShutdownRequested(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: it may arrive ignored
        signal.signal(sig, _on_signal)
    stack = Stack(settings, say=say, verbose=verbose)
    code = 0
    try:
        stack.start()
        if not verbose:
            say(
                f"logs: {stack.data_dir / 'logs'}   Temporal UI: {stack.temporal.ui_url if stack.temporal else '-'}"
            )
        if chat_agent is not None:
            from engram.runtime.chat import run_chat

            code = run_chat(stack.api_url, chat_agent, settings=settings, before_prompt=stack.check)
        else:
            say("press Ctrl-C to stop")
            stack.wait(stop)
    except (KeyboardInterrupt, ShutdownRequested):
        say("")
    except (StartupError, VectorExtensionMissing) as exc:
        say(f"error: {exc}")
        code = 1
    except Exception as exc:  # anything else still must not leave children behind
        say(f"error: {type(exc).__name__}: {exc}")
        if verbose:
            import traceback

            traceback.print_exc()
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let shutdown finish; each step has its own timeout
        if stack.children or stack.postgres is not None:
            say("stopping: API, worker, Temporal, Postgres ...")
            stack.stop()
            say("stopped" if code == 0 else "stopped (after error)")
        stack.stop()  # the lock and state file, if nothing else was started
    return code
