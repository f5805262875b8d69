"""Parent side of the tool sandbox: one subprocess per tool call, confined, time-boxed and drained.

Per call: a fresh scratch directory (cwd, HOME and TMPDIR), an environment built from nothing (PATH,
locale, the agent's secrets, LETTA_* ids; never the worker's own variables), a new session so the
whole process group can be killed, and optionally an unprivileged user. The child
(`bootstrap.py`) then applies rlimits and Landlock before the tool's code runs. stdout/stderr and the
result pipe are read with caps, so a chatty tool cannot exhaust the worker's memory. Every failure,
timeout and crash comes back as an error result; nothing here raises for something the tool did.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram.sandbox.limits import SandboxLimits, namespace_prefix, sandbox_user

BOOTSTRAP = str(Path(__file__).with_name("bootstrap.py"))
_CHUNK = 65536
READ_GRACE_S = 2.0
_PR_SET_DUMPABLE = 4
_undumpable = False
_RESERVED_ENV = frozenset({"HOME", "TMPDIR", "TMP", "TEMP", "PWD", "LETTA_AGENT_ID", "LETTA_TOOL_ID", "LETTA_TOOL_CALL_ID"})  # fmt: skip


@dataclass
class ToolRun:
    """One call of a Python tool. `tool_call_id` is the idempotency key (LETTA_TOOL_CALL_ID in the env)."""

    source: str
    name: str
    args: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    agent_id: str | None = None
    tool_id: str | None = None
    tool_call_id: str | None = None
    agent_state: dict[str, Any] | None = None


@dataclass
class SandboxResult:
    is_error: bool
    output: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    timed_out: bool = False
    exit_code: int | None = None
    isolation: dict[str, Any] = field(default_factory=dict)


def tool_environment(run: ToolRun, scratch: str) -> dict[str, str]:
    """The child's whole environment; nothing is inherited from the worker."""
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }
    for key, value in (run.secrets or {}).items():
        if key and "=" not in key and "\0" not in key and key not in _RESERVED_ENV and value is not None:
            env[key] = str(value).replace("\0", "")
    env.update({"HOME": scratch, "TMPDIR": scratch, "TMP": scratch, "TEMP": scratch})
    ids = {
        "LETTA_AGENT_ID": run.agent_id,
        "LETTA_TOOL_ID": run.tool_id,
        "LETTA_TOOL_CALL_ID": run.tool_call_id,
    }
    env.update({k: v for k, v in ids.items() if v})
    return env


@dataclass(frozen=True)
class SandboxOptions:
    """Deployment-wide choices (from Settings): who tools run as, network, where scratch dirs live, what to hide."""

    user: str | None = "nobody"  # used only when the worker is root and that user can run the interpreter
    allow_network: bool = True
    scratch_root: str | None = None
    hide_paths: tuple[str, ...] = ()  # directories masked by an empty tmpfs when namespaces are available


async def run_python_tool(
    run: ToolRun, limits: SandboxLimits, options: SandboxOptions | None = None, *,
    on_tick: Callable[[], None] | None = None, tick_s: float = 5.0,
) -> SandboxResult:  # fmt: skip
    """Run `run.name(**run.args)` from `run.source` in a confined subprocess; `on_tick` is called every `tick_s`."""
    options = options or SandboxOptions()
    protect_worker_environ()
    run_as = await asyncio.to_thread(sandbox_user, options.user, BOOTSTRAP) if options.user else None
    prefix = await asyncio.to_thread(namespace_prefix, run_as.uid if run_as else None, options.allow_network)
    scratch = tempfile.mkdtemp(prefix="engram-tool-", dir=options.scratch_root)
    try:
        if run_as is not None:
            os.chown(scratch, run_as.uid, run_as.gid)
        request = {
            "source": run.source, "name": run.name, "args": run.args, "agent_state": run.agent_state,
            "agent_id": run.agent_id, "scratch": scratch, "limits": limits.rlimits(dedicated_user=run_as is not None),
            "namespaced": bool(prefix), "hide": list(options.hide_paths),
        }  # fmt: skip
        env = tool_environment(run, scratch)
        result = await _spawn_and_wait(request, env, scratch, (prefix, run_as), limits, on_tick, tick_s)
        if run_as is not None:
            result.isolation["user"] = run_as.name
        return result
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)


async def _spawn_and_wait(
    request: dict[str, Any], env: dict[str, str], scratch: str, how: tuple[tuple[str, ...], Any],
    limits: SandboxLimits, on_tick: Callable[[], None] | None, tick_s: float,
) -> SandboxResult:  # fmt: skip
    prefix, run_as = how
    read_fd, write_fd = os.pipe()
    user_kwargs = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []} if run_as is not None else {}
    try:
        proc = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, "-I", "-B", BOOTSTRAP, str(write_fd), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=scratch, env=env,
            pass_fds=(write_fd,), start_new_session=True, **user_kwargs,
        )  # fmt: skip
    except OSError as exc:
        os.close(read_fd)
        return SandboxResult(True, f"Error: the tool sandbox could not start: {exc}")
    finally:
        os.close(write_fd)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    result_reader, transport = await _pipe_reader(read_fd)
    captures = [
        _Capture(limits.output_chars),
        _Capture(limits.output_chars),
        _Capture(limits.result_chars * 4),
    ]
    readers = [
        asyncio.ensure_future(c.drain(s))
        for c, s in zip(captures, (proc.stdout, proc.stderr, result_reader), strict=True)
    ]
    with contextlib.suppress(OSError):  # BrokenPipe: the child died before reading its request
        proc.stdin.write(json.dumps(request).encode())
        await proc.stdin.drain()
        proc.stdin.close()
    try:
        timed_out = not await _wait(proc, limits.timeout_s, on_tick, tick_s)
    except (
        BaseException
    ):  # the activity was cancelled (run cancelled, worker shutting down): leave nothing behind
        _kill_group(proc.pid)
        for task in readers:
            task.cancel()
        transport.close()
        raise
    _kill_group(proc.pid)  # also ends anything the tool left running in its process group
    await proc.wait()
    # A grandchild that escaped the group may hold the pipes open: take what arrived, don't wait for EOF.
    _done, pending = await asyncio.wait(readers, timeout=READ_GRACE_S)
    for task in pending:
        task.cancel()
    transport.close()
    out, err, raw = captures
    if timed_out:
        msg = f"Error: tool timed out after {limits.timeout_s:g} s and was stopped"
        return SandboxResult(True, msg, out.lines(), err.lines(), timed_out=True, exit_code=proc.returncode)
    return _interpret(bytes(raw.kept), proc.returncode, out.lines(), err.lines(), limits)


async def _pipe_reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
    )
    return reader, transport


class _Capture:
    """The first `cap` bytes of a stream; the rest is drained and counted so the child never blocks on a full pipe."""

    def __init__(self, cap: int) -> None:
        self.cap, self.kept, self.total = cap, bytearray(), 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(_CHUNK):
            self.total += len(chunk)
            if len(self.kept) < self.cap:
                self.kept += chunk[: self.cap - len(self.kept)]

    def lines(self) -> list[str]:
        text = self.kept.decode("utf-8", errors="replace")
        if self.total > self.cap:
            text += f"\n[... truncated: {self.total - self.cap} more bytes not kept]"
        return [text] if text else []


async def _wait(
    proc: asyncio.subprocess.Process, timeout_s: float, on_tick: Callable[[], None] | None, tick_s: float
) -> bool:
    """True if the process exited by itself within `timeout_s`; ticks (heartbeats) while it runs."""
    deadline = time.monotonic() + timeout_s
    waiter = asyncio.ensure_future(proc.wait())
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            done, _ = await asyncio.wait({waiter}, timeout=min(tick_s, left))
            if done:
                return True
            if on_tick is not None:
                on_tick()
    finally:
        if not waiter.done():
            waiter.cancel()


def protect_worker_environ() -> None:
    """Without namespaces a tool (or a stdio MCP server) runs as the worker's user; a non-dumpable worker keeps
    its /proc/<pid>/environ (database URL, provider keys) unreadable to such a process. Only a non-root
    worker gains from it: a root child keeps CAP_SYS_PTRACE and reads it anyway."""
    global _undumpable
    if not _undumpable and sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        _undumpable = True


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _interpret(
    raw: bytes, code: int | None, stdout: list[str], stderr: list[str], limits: SandboxLimits
) -> SandboxResult:
    try:
        report = json.loads(raw.decode("utf-8", errors="replace")) if raw else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return SandboxResult(True, _crash_message(code), stdout, stderr, exit_code=code)
    isolation = report.get("isolation") or {}
    if not report.get("ok"):
        detail = str(report.get("error") or "unknown error")
        trace = str(report.get("traceback") or "")
        return SandboxResult(True, f"Error executing tool: {detail}"[:4000], stdout, [*stderr, trace] if trace else stderr,
                             exit_code=code, isolation=isolation)  # fmt: skip
    output = str(report.get("result", ""))
    if len(output) > limits.result_chars:
        output = (
            output[: limits.result_chars]
            + f"\n[... truncated: the tool returned more than {limits.result_chars} characters]"
        )
    return SandboxResult(False, output, stdout, stderr, exit_code=code, isolation=isolation)


def _crash_message(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = (
            " (CPU time limit)"
            if name == "SIGXCPU"
            else " (memory or resource limit?)"
            if name == "SIGKILL"
            else ""
        )
        return f"Error: the tool process was killed by {name}{hint} before returning a result"
    return f"Error: the tool process exited with code {code} before returning a result"
