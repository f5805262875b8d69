"""Child side of the tool sandbox: confine this process, then run one tool function and report its result.

Run as `python -I -B bootstrap.py <result_fd>` by `engram.sandbox.runner`, with the request as JSON on
stdin. It is stdlib-only and self-contained (`-I` keeps the engram tree off `sys.path`). Order matters:
resource limits and the Landlock file-system rules are applied *before* the tool's source is compiled,
so nothing the tool does can lift them. The result goes to a dedicated pipe (`result_fd`), never to
stdout, so the tool's prints cannot forge it: one JSON object `{"ok", "result" | "error", "isolation"}`.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import json
import os
import resource
import sys
import traceback
from types import SimpleNamespace
from typing import Any

# linux/landlock.h
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on x86_64 and arm64
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_ABI1_ALL = (1 << 13) - 1


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _handled_rights(abi: int) -> int:
    rights = _ABI1_ALL
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def confine_writes(scratch: str) -> bool:
    """Landlock: read and execute anywhere, write only beneath `scratch` (and /dev/null). False if unsupported.

    Landlock also stops this process from ptrace-reading processes outside its domain, which is what
    keeps /proc/<worker pid>/environ out of reach when tools run as the worker's own user.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return False
    handled = _handled_rights(abi)
    attr = ctypes.c_uint64(handled)
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    file_rights = handled & (_EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV)
    rules = [("/", _EXECUTE | _READ_FILE | _READ_DIR), (scratch, handled), ("/dev/null", file_rights)]
    try:
        for path, rights in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(rights, fd)
                if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
                    return False
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) == 0
    finally:
        os.close(ruleset)


def hide_paths(paths: list[str], scratch: str) -> list[str]:
    """Mount an empty tmpfs over each directory (only called inside our own mount namespace).

    A directory holding the scratch dir itself is left alone (the tool must still reach its scratch).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    hidden = []
    for path in paths:
        if os.path.commonpath([os.path.realpath(path), os.path.realpath(scratch)]) == os.path.realpath(path):
            continue
        if os.path.isdir(path) and libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, None) == 0:
            hidden.append(path)
    return hidden


def apply_limits(limits: dict[str, int | None]) -> None:
    """soft = hard, so the tool cannot raise them again."""
    for name, key in (("RLIMIT_CPU", "cpu_s"), ("RLIMIT_AS", "memory_bytes"), ("RLIMIT_FSIZE", "file_size_bytes"),
                      ("RLIMIT_NOFILE", "open_files"), ("RLIMIT_NPROC", "max_processes"), ("RLIMIT_CORE", "core")):  # fmt: skip
        value = limits.get(key)
        if value is None:
            continue
        which = getattr(resource, name)
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


class _View(SimpleNamespace):
    """Attribute access over the agent snapshot; writes are refused (the snapshot is read-only)."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("agent_state is a read-only snapshot; edit memory with the memory tools")


class _Memory(_View):
    def get_block(self, label: str) -> Any:
        for block in self.blocks:
            if block.label == label:
                return block
        raise KeyError(f"no memory block with label {label!r}")

    def list_block_labels(self) -> list[str]:
        return [block.label for block in self.blocks]


def agent_state_view(snapshot: dict[str, Any]) -> _View:
    """Letta's `agent_state` parameter, as far as tools read it: ids, config, memory blocks, tool names."""
    blocks = [_View(**block) for block in snapshot.get("blocks", [])]
    fields = {k: v for k, v in snapshot.items() if k != "blocks"}
    return _View(**fields, memory=_Memory(blocks=blocks))


def as_text(value: Any) -> str:
    """Letta's rendering of a tool's return value: strings as they are, JSON for data, str() otherwise."""
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def run_tool(request: dict[str, Any]) -> str:
    namespace: dict[str, Any] = {"__name__": "__engram_tool__"}
    exec(compile(request["source"], "<tool source>", "exec"), namespace)  # noqa: S102 - running it is the point
    fn = namespace.get(request["name"])
    if not callable(fn):
        raise NameError(f"the source defines no function named {request['name']!r}")
    kwargs = dict(request.get("args") or {})
    params = inspect.signature(fn).parameters
    if "agent_state" in params and request.get("agent_state") is not None:
        kwargs["agent_state"] = agent_state_view(request["agent_state"])
    if "agent_id" in params and "agent_id" not in kwargs and request.get("agent_id"):
        kwargs["agent_id"] = request["agent_id"]
    result = fn(**kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return as_text(result)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def main() -> None:
    result_fd = int(sys.argv[1])
    os.set_inheritable(
        result_fd, False
    )  # the tool's own subprocesses must not hold (or write) the result pipe
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    isolation: dict[str, Any] = {"landlock": False, "namespaces": bool(request.get("namespaced"))}
    try:
        if request.get("namespaced"):
            isolation["hidden"] = hide_paths(request.get("hide") or [], request["scratch"])
        if request.get("confine_writes", True):
            isolation["landlock"] = confine_writes(request["scratch"])
        apply_limits(request.get("limits") or {})
        report: dict[str, Any] = {"ok": True, "result": run_tool(request)}
    except BaseException as exc:  # noqa: BLE001 - every failure is reported to the model as an error return
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        report = {"ok": False, "error": detail, "traceback": traceback.format_exc(limit=-8)}
    report["isolation"] = isolation
    sys.stdout.flush()
    sys.stderr.flush()
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
