"""Child processes and ports: the small OS-level pieces the supervisor and the servers share.

Children run in their own session (process group), so a Ctrl-C in the terminal reaches only the
supervisor, which then stops them in order; on Linux they also get SIGTERM if the supervisor dies
(PR_SET_PDEATHSIG), so even `kill -9` of `engram up` leaves no orphans behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from engram.errors import EngramError

_PR_SET_PDEATHSIG = 1


class StartupError(EngramError):
    """A component of the local stack could not start; the message names it and says why."""


class PortInUse(StartupError):
    """A port the stack needs is taken; raised before anything is started."""

    def __init__(self, what: str, host: str, port: int, hint: str = "") -> None:
        msg = f"port {port} ({what}) on {host} is already in use"
        super().__init__(f"{msg}; {hint}" if hint else msg)
        self.what, self.host, self.port = what, host, port


def port_is_free(host: str, port: int) -> bool:
    """True if a server could bind host:port now (SO_REUSEADDR, as uvicorn and Go servers bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (tests use it to avoid clashing with a running stack)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_ports_free(wanted: Mapping[str, tuple[str, int, str]]) -> None:
    """Check every (host, port, hint) by name before starting anything, so a clash fails fast."""
    for what, (host, port, hint) in wanted.items():
        if not port_is_free(host, port):
            raise PortInUse(what, host, port, hint)


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def _child_setup() -> None:  # runs in the child between fork and exec
    # A supervisor started in the background of a non-interactive shell inherits SIGINT ignored, and
    # ignored signals survive exec: reset them so our SIGINT stops the child gracefully.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: no parent-death signal, the supervisor still stops us
        pass


@dataclass
class Child:
    """One supervised process and the log file its output goes to (None = inherits the console)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 15) -> str:
        return tail(self.log_path, lines) if self.log_path else ""

    def stop(self, first_signal: int = signal.SIGINT, timeout: float = 10.0) -> None:
        """Graceful signal to the whole group, then SIGTERM, then SIGKILL; always reaps the leader."""
        for sig, wait_s in ((first_signal, timeout), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if self.process.poll() is not None:
                break
            _signal_group(self.process.pid, sig)
            try:
                self.process.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
        _signal_group(self.process.pid, signal.SIGKILL)  # stragglers the leader left in its group


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start `argv` in its own process group, output appended to `log_path` (or the console)."""
    out: IO[bytes] | None = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_path, "ab")  # noqa: SIM115 - the child owns it; closed below after fork
    try:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=True,
            preexec_fn=_child_setup,
        )
    finally:
        if out is not None:
            out.close()
    return Child(name, proc, log_path)


def tail(path: Path, lines: int = 15) -> str:
    """Last lines of a log file, for error messages that say why a child died."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
