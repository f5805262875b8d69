"""What a sandboxed tool may use, and who it runs as.

Defaults mirror Letta's (5 min per tool) where Letta has one; the rest are sized so an ordinary tool
(an HTTP call, some parsing, a few MB of output) never notices them.
"""

from __future__ import annotations

import functools
import math
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 300.0
MAX_TIMEOUT_S = 3600.0  # the tools activity's start-to-close budget must stay above this (workflows/steps.py)


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = DEFAULT_TIMEOUT_S  # wall clock, the process group is SIGKILLed after it
    memory_mb: int = 1024  # RLIMIT_AS: address space, so MemoryError rather than the OOM killer
    file_size_mb: int = 64  # RLIMIT_FSIZE: largest file the tool may write in its scratch dir
    open_files: int = 256
    max_processes: int = 64  # RLIMIT_NPROC: applied only under a dedicated sandbox user (it counts per uid)
    output_chars: int = 64_000  # stdout / stderr kept, each
    result_chars: int = 5_000_000  # largest return value kept at all (the model sees return_char_limit of it)

    def with_timeout(self, timeout_s: float | None) -> SandboxLimits:
        if timeout_s is None or timeout_s <= 0:
            return self
        return SandboxLimits(**{**self.__dict__, "timeout_s": min(float(timeout_s), MAX_TIMEOUT_S)})

    def rlimits(self, *, dedicated_user: bool) -> dict[str, int | None]:
        mib = 1024 * 1024
        return {
            "cpu_s": math.ceil(self.timeout_s) + 1,
            "memory_bytes": self.memory_mb * mib,
            "file_size_bytes": self.file_size_mb * mib,
            "open_files": self.open_files,
            "max_processes": self.max_processes if dedicated_user else None,
            "core": 0,
        }


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int
    name: str


@functools.lru_cache(maxsize=8)
def sandbox_user(name: str | None, bootstrap: str) -> RunAs | None:
    """The unprivileged user tools run as, when the worker is root and that user can run the bootstrap.

    Checked once per process by having that user's interpreter open `bootstrap`: a root-owned, 0700 home
    holding the interpreter (pyenv under /root) makes the drop impossible, and then tools run as the
    worker's user (still confined by Landlock and the limits).
    """
    if not name or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    try:
        probe = subprocess.run(
            [sys.executable, "-I", "-c", "import sys; open(sys.argv[1]).close()", bootstrap], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
            cwd="/", env={"PATH": os.defpath}, capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return RunAs(entry.pw_uid, entry.pw_gid, name) if probe.returncode == 0 else None


@functools.lru_cache(maxsize=8)
def namespace_prefix(uid: int | None, allow_network: bool) -> tuple[str, ...]:
    """`unshare` arguments giving the tool its own user, PID and mount namespaces (and no network unless
    allowed); empty where unprivileged user namespaces are unavailable. Probed once per (user, network).

    In its own PID namespace with a fresh /proc the tool sees no other process, so neither the worker's
    /proc/<pid>/environ nor any other process's is readable; the mount namespace lets the child hide the
    data directory (embedded Postgres socket) under an empty tmpfs.
    """
    exe = shutil.which("unshare")
    if exe is None:
        return ()
    prefix = (exe, "--user", "--map-root-user", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc")
    if not allow_network:
        prefix += ("--net",)
    user_kwargs = {} if uid is None else {"user": uid, "group": pwd.getpwuid(uid).pw_gid, "extra_groups": []}
    try:
        probe = subprocess.run(
            [*prefix, sys.executable, "-I", "-c", "pass"], cwd="/", env={"PATH": os.defpath},
            capture_output=True, timeout=30, check=False, **user_kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if probe.returncode == 0 else ()
