"""`engram up` as a user runs it: a real subprocess with its own data dir and free ports.

Covers start, `engram chat` against it, Ctrl-C (SIGINT) with no orphans, restart with persistence (agents
and memory in Postgres, history in Temporal's SQLite file), a child dying, external ENGRAM_DATABASE_URL/ENGRAM_TEMPORAL_ADDRESS with SIGTERM,
a taken port, and a database where pgvector cannot be created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from psycopg import sql

from engram.errors import VectorExtensionMissing
from engram.runtime import free_port, temporal_binary
from engram.runtime.temporal_server import GO_RUNTIME_DEFAULTS, dev_server_env
from engram.store.db import normalize_url
from engram.store.migrate import upgrade

ENGRAM = Path(sys.executable).parent / "engram"
START_TIMEOUT = 90.0


def engram_cmd(*args: str) -> list[str]:
    return [str(ENGRAM), *args] if ENGRAM.exists() else [sys.executable, "-m", "engram.cli", *args]


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean ENGRAM_* environment: own data dir, free ports, nothing inherited from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    env.update(
        ENGRAM_DATA_DIR=str(data_dir),
        ENGRAM_API_PORT=str(free_port()),
        ENGRAM_TEMPORAL_PORT=str(free_port()),
        ENGRAM_TEMPORAL_UI_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir directly under /tmp: as root, embedded Postgres makes every parent of pgdata traversable,
    and pytest keeps resetting its own /tmp/pytest-of-root to 0700, so tmp_path cannot hold pgdata."""
    path = Path(tempfile.mkdtemp(prefix="engram-up-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


class Up:
    """One `engram up` process; output goes to a file so the test can show it on failure."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.env, self.log = env, cwd / f"up-{uuid.uuid4().hex[:6]}.out"
        self.data_dir = Path(env["ENGRAM_DATA_DIR"])
        self.api = f"http://127.0.0.1:{env['ENGRAM_API_PORT']}"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                engram_cmd("up", *args), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> dict[str, object]:
        """Wait for the API's health endpoint and the state file; return the state (pids, addresses)."""
        deadline = time.monotonic() + START_TIMEOUT
        state_file = self.data_dir / "engram-up.json"
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                f"engram up exited early ({self.proc.returncode}):\n{self.output}"
            )
            if state_file.exists():
                try:
                    if httpx.get(f"{self.api}/v1/health/", timeout=2).status_code == 200:
                        return dict(json.loads(state_file.read_text()))
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"engram up not ready after {START_TIMEOUT} s:\n{self.output}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"engram up did not stop within {timeout} s after {signal.Signals(sig).name}:\n{self.output}"
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def launch(data_dir: Path, tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Up]]:  # noqa: ARG001
    """Start `engram up`; whatever a failing test leaves running is stopped before data_dir goes away
    (depending on data_dir orders this teardown first)."""
    started: list[Up] = []

    def start(env: dict[str, str]) -> Up:
        started.append(Up(env, tmp_path))
        return started[-1]

    yield start
    for up in started:
        if up.proc.poll() is None:
            up.proc.terminate()
            try:
                up.proc.wait(60)
            except subprocess.TimeoutExpired:
                up.kill()


def alive(pid: object) -> bool:
    try:
        return isinstance(pid, int) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_no_orphans(state: dict[str, object], data_dir: Path) -> None:
    """Every process `up` started is gone: its children, Postgres, and anything naming the data dir."""
    children = state["children"]
    assert isinstance(children, dict)
    pids = [*children.values(), state.get("postgres_pid")]
    deadline = time.monotonic() + 10  # postgres backends exit just after the postmaster
    while True:
        left = [pid for pid in pids if alive(pid)]
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(data_dir) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(proc.info["pid"])
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"processes left running after engram up stopped: {left}"


def chat_with(up: Up, agent: str, text: str) -> str:
    """`engram chat` as a user pipes into it; returns what it printed."""
    result = subprocess.run(
        engram_cmd("chat", "--agent", agent, "--url", up.api), input=text + "\n", env=up.env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def temporal_cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(temporal_binary()), *args, "--address", address], capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.mark.slow
def test_up_stops_cleanly_restarts_with_data_and_reports_a_dead_child(
    tmp_path: Path, data_dir: Path, launch: Callable[[dict[str, str]], Up]
) -> None:
    env = stack_env(data_dir)
    up = launch(env)
    state = up.wait_ready()
    out = up.output
    for line in ("postgres ready", "migrations applied", "temporal ready: grpc 127.0.0.1:", "worker started",
                 f"API ready: {up.api}"):  # fmt: skip
        assert line in out, out
    assert "binds 127.0.0.1 only" in out  # no ENGRAM_API_KEY
    children = state["children"]
    assert isinstance(children, dict)
    assert psutil.Process(int(children["temporal"])).environ().get("GOGC") == GO_RUNTIME_DEFAULTS["GOGC"]

    # A second `up` on the same data dir refuses (and leaves the running one alone).
    other_ports = {
        k: str(free_port()) for k in ("ENGRAM_API_PORT", "ENGRAM_TEMPORAL_PORT", "ENGRAM_TEMPORAL_UI_PORT")
    }
    second = subprocess.run(
        engram_cmd("up"), env={**env, **other_ports}, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1 and "already using data dir" in second.stdout, second.stdout + second.stderr
    assert (data_dir / "engram-up.json").exists()

    status = subprocess.run(
        engram_cmd("status"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "ok (version" in status.stdout and "reachable" in status.stdout

    # Something to survive the restart, in each store: an agent (Postgres) and a workflow (Temporal).
    agent_name = f"persist-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{up.api}/v1/agents/", json={
        "name": agent_name, "model": "engram/offline", "agent_type": "memgpt_v2_agent",
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}, {"label": "persona", "value": "helpful"}],
    }, timeout=30)  # fmt: skip
    assert created.status_code in (200, 201), created.text
    agent_id = created.json()["id"]
    chat = chat_with(up, agent_name, "My name is Grace and I love Rust.")
    assert "assistant> " in chat and "[memory edit]" in chat, chat  # the offline model saves the fact
    address = str(state["temporal_address"])
    wf_id = f"persist-probe-{uuid.uuid4().hex[:8]}"
    started = temporal_cli(address, "workflow", "start", "--type", "Probe", "--task-queue", "persist-probe",
                           "--workflow-id", wf_id)  # fmt: skip
    assert started.returncode == 0, started.stderr

    assert up.stop(signal.SIGINT) == 0, up.output
    assert_no_orphans(state, data_dir)
    assert not (data_dir / "engram-up.json").exists()

    again = launch(env)
    state2 = again.wait_ready()
    assert "already running" not in again.output  # Postgres was really stopped, then started on old data
    listed = httpx.get(f"{again.api}/v1/agents/", params={"name": agent_name}, timeout=30)
    assert [a["id"] for a in listed.json()] == [agent_id]
    human = [b["value"] for b in listed.json()[0]["blocks"] if b["label"] == "human"]
    assert "Grace" in human[0]  # the memory edit made before the restart
    assert "assistant> " in chat_with(again, agent_name, "What do I love?")  # the agent still answers
    described = temporal_cli(str(state2["temporal_address"]), "workflow", "describe", "--workflow-id", wf_id)
    assert described.returncode == 0, described.stderr

    # A child dying takes the stack down with a message naming it, and still leaves nothing behind.
    children = state2["children"]
    assert isinstance(children, dict)
    os.kill(int(children["worker"]), signal.SIGKILL)
    try:
        code = again.proc.wait(60)
    except subprocess.TimeoutExpired:
        again.kill()
        pytest.fail(f"engram up kept running after its worker died:\n{again.output}")
    assert code != 0
    assert "worker exited unexpectedly" in again.output
    assert_no_orphans(state2, data_dir)


def test_the_dev_server_gets_a_tighter_go_gc_unless_the_user_tunes_it() -> None:
    assert dev_server_env({"PATH": "/bin"}) == {"PATH": "/bin", **GO_RUNTIME_DEFAULTS}
    assert dev_server_env({"GOMEMLIMIT": "256MiB"}) == {"GOMEMLIMIT": "256MiB"}  # the user's choice, alone
    assert dev_server_env({"GOGC": "100"}) == {"GOGC": "100"}


@pytest.fixture
def scratch_database(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """(admin libpq URL, name) of an empty database on the session's server, dropped afterwards."""
    name = f"t_stack_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_admin_url, name
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def url_as(admin_url: str, dbname: str, user: str = "postgres") -> str:
    """SQLAlchemy URL for `user` on `dbname`, on the same server as `admin_url`."""
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    host, port = str(info.get("host", "")), info.get("port")
    if host.startswith("/"):
        return f"postgresql+psycopg://{user}@/{dbname}?host={host}" + (f"&port={port}" if port else "")
    password = f":{info['password']}" if info.get("password") and user == info.get("user") else ""
    return f"postgresql+psycopg://{user}{password}@{host}:{port or 5432}/{dbname}"


@pytest.mark.slow
def test_up_uses_external_database_and_temporal_and_stops_on_sigterm(
    data_dir: Path,
    launch: Callable[[dict[str, str]], Up],
    scratch_database: tuple[str, str],
    temporal_env: object,
) -> None:
    admin_url, dbname = scratch_database
    target = temporal_env.client.service_client.config.target_host  # type: ignore[attr-defined]
    env = stack_env(data_dir, ENGRAM_DATABASE_URL=url_as(admin_url, dbname), ENGRAM_TEMPORAL_ADDRESS=target)
    up = launch(env)
    state = up.wait_ready()
    assert "postgres: using ENGRAM_DATABASE_URL" in up.output
    assert f"temporal: using ENGRAM_TEMPORAL_ADDRESS {target}" in up.output
    assert state["postgres_pid"] is None and set(state["children"]) == {"worker", "API"}  # type: ignore[arg-type]
    assert not (data_dir / "pgdata").exists() and not (data_dir / "temporal.db").exists()
    assert up.stop(signal.SIGTERM) == 0, up.output
    assert_no_orphans(state, data_dir)


@pytest.mark.parametrize("port_var", ["ENGRAM_API_PORT", "ENGRAM_TEMPORAL_PORT"])
def test_up_fails_fast_naming_a_taken_port(tmp_path: Path, data_dir: Path, port_var: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = stack_env(data_dir, **{port_var: str(port)})
        result = subprocess.run(
            engram_cmd("up"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"port {port}" in out and "already in use" in out and port_var in out, out
    assert "postgres ready" not in out  # checked before anything started
    assert not (data_dir / "pgdata").exists()


def test_db_upgrade_on_empty_then_migrated_database(scratch_database: tuple[str, str]) -> None:
    admin_url, dbname = scratch_database
    url = url_as(admin_url, dbname)
    for _ in range(2):  # second run: already at head, nothing to do, still succeeds
        result = subprocess.run(
            engram_cmd("db", "upgrade", "--url", url), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "at revision" in result.stdout
    with psycopg.connect(normalize_url(url).replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()


def test_database_without_pgvector_permission_says_what_an_admin_must_run(
    scratch_database: tuple[str, str],
) -> None:
    admin_url, dbname = scratch_database
    role = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(dbname), sql.Identifier(role))
        )
    try:
        url = url_as(admin_url, dbname, user=role)
        with pytest.raises(VectorExtensionMissing) as err:
            upgrade(url)
        assert "CREATE EXTENSION" in str(err.value) and dbname in str(err.value)

        result = subprocess.run(
            engram_cmd("db", "upgrade", "--url", url), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1
        assert "CREATE EXTENSION IF NOT EXISTS vector" in result.stderr, result.stdout + result.stderr
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO postgres").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.slow
def test_embedded_postgres_comes_back_after_its_postmaster_is_killed(data_dir: Path) -> None:
    """A crashed run (postmaster SIGKILLed, possibly left as an unreaped zombie) must not stop the next
    start: the stale lock files are cleared, Postgres recovers, and committed data is still there."""
    from engram.runtime import start_embedded_postgres

    pg = start_embedded_postgres(data_dir / "pgdata")
    try:
        url = pg.create_database("engram")
        pg.execute("CREATE TABLE survivor (v text); INSERT INTO survivor VALUES ('kept')", "engram")
        os.kill(pg.pid, signal.SIGKILL)
        again = start_embedded_postgres(data_dir / "pgdata")
        assert again.pid != pg.pid and not again.adopted
        with psycopg.connect(normalize_url(url).replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT v FROM survivor").fetchone() == ("kept",)
    finally:
        start_embedded_postgres(data_dir / "pgdata").stop()


@pytest.mark.slow
def test_an_idle_worker_that_grew_restarts_in_place_and_the_agent_carries_on(
    data_dir: Path, launch: Callable[[dict[str, str]], Up]
) -> None:
    """Any growth counts here (0.01 MB) and 2 s without an activity is idle: after one chat the worker
    must exec itself afresh, keeping its pid (the supervisor sees nothing), and serve the agent again."""
    up = launch(stack_env(data_dir, ENGRAM_WORKER_RECYCLE_MB="0.01", ENGRAM_WORKER_RECYCLE_IDLE_S="2"))
    state = up.wait_ready()
    children = state["children"]
    assert isinstance(children, dict)
    worker_pid = int(children["worker"])
    worker_log = data_dir / "logs" / "worker.log"

    def starts() -> list[str]:
        return [line for line in worker_log.read_text().splitlines() if "polling task queue" in line]

    time.sleep(5)  # idle without having run anything: nothing to give back, so no recycle
    assert len(starts()) == 1 and "recycling" not in worker_log.read_text(), worker_log.read_text()

    agent = f"recycle-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{up.api}/v1/agents/", json={
        "name": agent, "model": "engram/offline", "agent_type": "memgpt_v2_agent",
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}, {"label": "persona", "value": "helpful"}],
    }, timeout=30)  # fmt: skip
    assert created.status_code in (200, 201), created.text
    assert "[memory edit]" in chat_with(up, agent, "My name is Grace and I love Rust.")

    deadline = time.monotonic() + 60
    while len(starts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    log = worker_log.read_text()
    assert len(starts()) == 2 and "recycling in place: idle for" in log, log
    assert all(f"(pid {worker_pid}," in line for line in starts())  # exec'd in place: same pid
    assert up.proc.poll() is None and alive(worker_pid), up.output

    # The new image picks up the agent: its workflow (evicted with the old process) replays from history.
    reply = chat_with(up, agent, "What do I love?")
    assert "assistant> " in reply, reply
    human = httpx.get(f"{up.api}/v1/agents/{created.json()['id']}/core-memory/blocks/human", timeout=30)
    assert "Grace" in human.json()["value"]
    assert up.stop(signal.SIGINT) == 0, up.output
    assert_no_orphans(state, data_dir)
