"""An isolated Engram stack for benchmarks: `engram up` in a temp data dir on free loopback ports, plus
the fake OpenAI-compatible LLM (tests/fake_llm.py) in a process of its own.

    with BenchStack(llm_latency_s=0.0, idle_timeout_s=15) as stack:
        stack.url                  # http://127.0.0.1:PORT for letta-client
        stack.temporal_address     # 127.0.0.1:PORT of the embedded Temporal dev server
        stack.roles()              # {"api": Process, "worker": ..., "temporal": ..., "postgres": ...}
        cpu_seconds(stack.roles()) # cumulative CPU of each process tree (reaped children included)

The fake LLM runs in its own process so its CPU neither competes with the benchmark client's GIL nor
hides in Engram's figures. Everything started here is stopped on exit (SIGINT to `engram up`, which stops
its children in order; then a bounded wait and SIGKILL of whatever is left, by pid). Run this module
alone to start the fake LLM only: `python -m bench.stack --fake-llm [--latency S]` (prints its URL).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx
import psutil

from engram.runtime import free_port

ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = "engram-up.json"  # engram/runtime/supervisor.py STATE_FILE
ROLES = ("api", "worker", "temporal", "postgres")


class BenchStack:
    """Start on __enter__, stop on __exit__; `start_timeout_s` bounds every wait."""

    def __init__(
        self, *, llm_latency_s: float = 0.0, llm_chunk_latency_s: float = 0.0, idle_timeout_s: float = 1800.0,
        start_timeout_s: float = 120.0, keep_dir: bool = False,
    ) -> None:  # fmt: skip
        self.llm_latency_s = llm_latency_s
        self.llm_chunk_latency_s = llm_chunk_latency_s
        self.idle_timeout_s = idle_timeout_s
        self.start_timeout_s = start_timeout_s
        self.keep_dir = keep_dir
        self.url = ""
        self.llm_url = ""
        self.temporal_address = ""
        self.data_dir: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._llm: subprocess.Popen[str] | None = None
        self._up: subprocess.Popen[str] | None = None
        self._pids: set[int] = set()

    # -- start -------------------------------------------------------------------------------

    def __enter__(self) -> BenchStack:
        try:
            self._start_llm()
            self._start_stack()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start_llm(self) -> None:
        argv = [sys.executable, "-m", "bench.stack", "--fake-llm", "--latency", str(self.llm_latency_s),
                "--chunk-latency", str(self.llm_chunk_latency_s)]  # fmt: skip
        self._llm = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._llm.stdout is not None
        line = self._llm.stdout.readline().strip()  # the child prints its URL once listening
        if not line.startswith("http://127.0.0.1:"):
            raise SystemExit(f"fake LLM did not start (said {line!r})")
        self.llm_url = line

    def _start_stack(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="engram-bench-")
        self.data_dir = Path(self._tmp.name) / "data"
        api_port, t_port, ui_port = free_port(), free_port(), free_port()
        env = {
            **os.environ, "ENGRAM_DATA_DIR": str(self.data_dir), "ENGRAM_API_HOST": "127.0.0.1",
            "ENGRAM_API_PORT": str(api_port), "ENGRAM_TEMPORAL_PORT": str(t_port),
            "ENGRAM_TEMPORAL_UI_PORT": str(ui_port), "ENGRAM_IDLE_TIMEOUT_S": str(self.idle_timeout_s),
            "OPENAI_BASE_URL": self.llm_url, "OPENAI_API_KEY": "bench",
        }  # fmt: skip
        for key in ("ENGRAM_DATABASE_URL", "ENGRAM_TEMPORAL_ADDRESS", "ENGRAM_API_KEY", "ENGRAM_ADMIN_KEY"):
            env.pop(key, None)  # always the embedded, isolated, open stack
        log = open(Path(self._tmp.name) / "engram-up.out", "w")  # noqa: SIM115 - closed with the tmp dir
        self._up = subprocess.Popen([sys.executable, "-m", "engram.cli", "up"], env=env, cwd=ROOT,
                                    stdout=log, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        self.url = f"http://127.0.0.1:{api_port}"
        self.temporal_address = f"127.0.0.1:{t_port}"
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._up.poll() is not None:
                raise SystemExit(f"engram up exited:\n{self.up_output()}")
            if self._state().get("children"):
                try:
                    if httpx.get(f"{self.url}/v1/health/", timeout=1).status_code == 200:
                        self._pids = {p.pid for p in self._all_processes()}
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        raise SystemExit(
            f"the stack did not come up within {self.start_timeout_s:.0f} s:\n{self.up_output()}"
        )

    def up_output(self) -> str:
        try:
            return (Path(self._tmp.name) / "engram-up.out").read_text()[-4000:] if self._tmp else ""
        except OSError:
            return ""

    # -- processes ---------------------------------------------------------------------------

    def _state(self) -> dict[str, object]:
        try:
            return dict(json.loads((self.data_dir / STATE_FILE).read_text())) if self.data_dir else {}
        except (OSError, ValueError):
            return {}

    def roles(self) -> dict[str, psutil.Process | None]:
        """The root process of each component (its tree is the component)."""
        state = self._state()
        children = state.get("children") if isinstance(state.get("children"), dict) else {}
        pids = {"api": children.get("API"), "worker": children.get("worker"),  # type: ignore[union-attr]
                "temporal": children.get("temporal"), "postgres": state.get("postgres_pid")}  # fmt: skip
        out: dict[str, psutil.Process | None] = {}
        for role in ROLES:
            try:
                out[role] = psutil.Process(int(pids[role])) if pids[role] else None  # type: ignore[arg-type]
            except (psutil.NoSuchProcess, ValueError, TypeError):
                out[role] = None
        return out

    def _all_processes(self) -> list[psutil.Process]:
        procs: list[psutil.Process] = []
        for root in [
            *(r for r in self.roles().values() if r),
            *(self._proc(p) for p in (self._up, self._llm)),
        ]:
            if root is None:
                continue
            procs.append(root)
            try:
                procs.extend(root.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        return procs

    @staticmethod
    def _proc(popen: subprocess.Popen[str] | None) -> psutil.Process | None:
        try:
            return psutil.Process(popen.pid) if popen is not None and popen.poll() is None else None
        except psutil.NoSuchProcess:
            return None

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> list[int]:
        """Stop everything; returns pids that had to be SIGKILLed (should be empty)."""
        self._pids |= {p.pid for p in self._all_processes()}
        if self._up is not None and self._up.poll() is None:
            self._up.send_signal(signal.SIGINT)
            try:
                self._up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._up.kill()
                self._up.wait(timeout=10)
        if self._llm is not None and self._llm.poll() is None:
            self._llm.terminate()
            try:
                self._llm.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._llm.kill()
                self._llm.wait(timeout=10)
        killed = []
        for pid in sorted(self._pids):  # only processes this stack started, by pid
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    proc.kill()
                    killed.append(pid)
            except psutil.NoSuchProcess:
                pass
        self._up = self._llm = None
        if self._tmp is not None and not self.keep_dir:
            self._tmp.cleanup()
            self._tmp = None
        return killed


def _tree(root: psutil.Process | None) -> list[psutil.Process]:
    if root is None:
        return []
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_seconds(root: psutil.Process | None) -> float:
    """User+system CPU of a process tree, counting children that already exited and were reaped
    (Postgres backends come and go; their CPU lands in the postmaster's children_* times)."""
    total = 0.0
    for proc in _tree(root):
        try:
            t = proc.cpu_times()
            total += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        except psutil.NoSuchProcess:
            pass
    return total


def tree_memory_mb(root: psutil.Process | None) -> dict[str, float]:
    """RSS (double-counts shared pages, e.g. Postgres shared buffers), PSS (shares them out) and the part of
    PSS in shared memory (`shmem`: for Postgres, the shared-buffer pages its processes have touched, i.e. its
    page cache, as opposed to what its backends allocate)."""
    rss = pss = shmem = 0.0
    procs = _tree(root)
    for proc in procs:
        try:
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            shmem += _pss_shmem_bytes(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    mb = 2**20
    return {"rss": round(rss / mb, 1), "pss": round(pss / mb, 1), "shmem": round(shmem / mb, 1),
            "processes": len(procs)}  # fmt: skip


def _pss_shmem_bytes(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss_Shmem:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(roles: dict[str, psutil.Process | None]) -> dict[str, float]:
    return {role: tree_cpu_seconds(proc) for role, proc in roles.items()}


def memory_mb(roles: dict[str, psutil.Process | None]) -> dict[str, dict[str, float]]:
    per = {role: tree_memory_mb(proc) for role, proc in roles.items()}
    per["total"] = {"rss": round(sum(v["rss"] for v in per.values()), 1),
                    "pss": round(sum(v["pss"] for v in per.values()), 1),
                    "shmem": round(sum(v["shmem"] for v in per.values()), 1),
                    "processes": sum(int(v["processes"]) for v in per.values())}  # fmt: skip
    return per


def _serve_fake_llm(latency_s: float, chunk_latency_s: float) -> None:
    from tests.fake_llm import FakeLlmServer

    stop = False

    def _on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with FakeLlmServer(latency_s=latency_s, chunk_latency_s=chunk_latency_s, record=False) as server:
        sys.stdout.write(server.url + "\n")
        sys.stdout.flush()
        parent = os.getppid()
        while not stop and os.getppid() == parent:  # exits with its parent: no orphan
            time.sleep(0.2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Start the benchmark fake LLM alone (prints its URL).")
    parser.add_argument("--fake-llm", action="store_true", required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every reply")
    parser.add_argument("--chunk-latency", type=float, default=0.0, help="seconds between streamed chunks")
    args = parser.parse_args()
    _serve_fake_llm(args.latency, args.chunk_latency)
