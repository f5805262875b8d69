"""The custom-tool sandbox on its own: what a tool can and cannot reach, and how failures come back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from engram.sandbox import SandboxLimits, SandboxOptions, ToolRun, run_python_tool

FAST = SandboxLimits(timeout_s=3, memory_mb=256)


async def _run(source: str, args: dict | None = None, limits: SandboxLimits = FAST, **run: object):
    name = source.split("def ", 1)[1].split("(", 1)[0]
    return await run_python_tool(ToolRun(source, name, args or {}, **run), limits)  # type: ignore[arg-type]


async def test_tool_runs_and_returns_json_with_stdout_captured() -> None:
    result = await _run(
        "def double(x: int):\n    print('working')\n    return {'double': x * 2}\n", {"x": 21}
    )
    assert not result.is_error and result.output == '{"double": 42}'
    assert result.stdout == ["working\n"]


PEEK = (
    "import os, glob\n"
    "def peek():\n"
    "    found = dict(os.environ)\n"
    "    for path in glob.glob('/proc/[0-9]*/environ'):\n"
    "        try:\n"
    "            found[path] = open(path, 'rb').read().decode(errors='replace')\n"
    "        except OSError:\n"
    "            pass\n"
    "    return found\n"
)
WORKER = """
import asyncio, json, sys
from engram.sandbox import SandboxLimits, ToolRun, run_python_tool
run = ToolRun(sys.argv[1], "peek", {}, secrets={"WEATHER_KEY": "agent-secret"}, tool_call_id="call-1")
result = asyncio.run(run_python_tool(run, SandboxLimits(timeout_s=20)))
print(json.dumps({"output": result.output, "isolation": result.isolation}))
"""


def test_tool_cannot_read_the_servers_environment() -> None:
    """A stand-in worker process starts with server secrets in its environment and runs a tool that looks
    everywhere it can: its own environment and every /proc/<pid>/environ it can open."""
    env = {
        **os.environ,
        "ENGRAM_FAKE_SECRET": "s3cret-value",
        "DATABASE_URL": "postgresql://user:pw@db/engram",
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, PEEK], env=env, capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    output, isolation = report["output"], report["isolation"]
    if not isolation.get("namespaces") and not isolation.get("user") and os.geteuid() == 0:
        pytest.skip("a root tool without namespaces or a sandbox user can read /proc/<worker>/environ")
    assert "s3cret-value" not in output and "user:pw" not in output
    assert "ENGRAM_FAKE_SECRET" not in output and "DATABASE_URL" not in output
    assert "agent-secret" in output  # the agent's own secrets are what a tool gets
    assert '"LETTA_TOOL_CALL_ID": "call-1"' in output  # the idempotency key


async def test_scratch_dir_is_the_tools_home_and_is_removed_afterwards(tmp_path: Path) -> None:
    source = "import os\ndef where():\n    open('x.txt', 'w').write('x')\n    return [os.getcwd(), os.environ['HOME'], os.environ['TMPDIR']]\n"
    result = await run_python_tool(
        ToolRun(source, "where", {}), FAST, SandboxOptions(scratch_root=str(tmp_path))
    )
    cwd, home, tmpdir = json.loads(result.output)
    assert cwd == home == tmpdir and Path(cwd).parent == tmp_path
    assert not Path(cwd).exists() and list(tmp_path.iterdir()) == []


async def test_tool_cannot_write_outside_its_scratch_dir(tmp_path: Path) -> None:
    outside = tmp_path / "open-to-all"
    outside.mkdir()
    outside.chmod(0o777)
    target = outside / f"escape-{uuid.uuid4().hex}.txt"
    source = (
        "import os\n"
        "def escape(path: str):\n"
        "    open('inside.txt', 'w').write('fine')\n"
        "    open(os.path.join(os.environ['HOME'], 'home.txt'), 'w').write('fine')\n"
        "    open(path, 'w').write('escaped')\n"
        "    return 'wrote ' + path\n"
    )
    result = await _run(source, {"path": str(target)})
    if not result.isolation.get("landlock") and not result.isolation.get("user"):
        pytest.skip("neither Landlock nor a sandbox user is available on this kernel/host")
    assert result.is_error and "Permission" in result.output
    assert not target.exists()


async def test_infinite_loop_is_killed_at_its_timeout() -> None:
    ticks: list[int] = []
    limits = SandboxLimits(timeout_s=1.5, memory_mb=256)
    result = await run_python_tool(ToolRun("def spin():\n    while True:\n        pass\n", "spin", {}), limits,
                                   on_tick=lambda: ticks.append(1), tick_s=0.5)  # fmt: skip
    assert result.is_error and result.timed_out and "timed out after 1.5 s" in result.output
    assert ticks  # the activity heartbeats while the tool runs


async def test_memory_hog_is_stopped() -> None:
    result = await _run("def hog():\n    blob = bytearray(2 * 1024 ** 3)\n    return len(blob)\n")
    assert result.is_error and "MemoryError" in result.output


async def test_crash_and_exception_are_error_results() -> None:
    crashed = await _run("import os\ndef die():\n    os._exit(3)\n")
    assert crashed.is_error and "exited with code 3" in crashed.output
    raised = await _run("def boom():\n    raise ValueError('bad input')\n")
    assert raised.is_error and "ValueError: bad input" in raised.output


async def test_agent_state_is_a_read_only_snapshot() -> None:
    source = (
        "def whoami(agent_state, agent_id: str = ''):\n"
        "    try:\n"
        "        agent_state.name = 'changed'\n"
        "    except AttributeError:\n"
        "        pass\n"
        "    return f\"{agent_state.name}|{agent_state.memory.get_block('human').value}|{agent_id}\"\n"
    )
    snapshot = {
        "id": "agent-1",
        "name": "ada-bot",
        "blocks": [{"label": "human", "value": "Ada likes chess"}],
    }
    result = await _run(source, agent_state=snapshot, agent_id="agent-1")
    assert result.output == "ada-bot|Ada likes chess|agent-1"


async def test_hidden_paths_are_empty_inside_the_sandbox(tmp_path: Path) -> None:
    secret_dir = tmp_path / "data"
    secret_dir.mkdir()
    (secret_dir / "pg.sock").write_text("not for tools")
    source = "import os\ndef look(path: str):\n    return sorted(os.listdir(path))\n"
    run = ToolRun(source, "look", {"path": str(secret_dir)})
    result = await run_python_tool(run, FAST, SandboxOptions(hide_paths=(str(secret_dir),)))
    if not result.isolation.get("namespaces"):
        pytest.skip("user namespaces are not available here")
    assert result.output == "[]"
    assert os.path.exists(secret_dir / "pg.sock")  # hidden from the tool, untouched for the server


async def test_cancelled_call_kills_the_tool_process() -> None:
    import asyncio

    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    task = asyncio.ensure_future(_run("import time\ndef nap():\n    time.sleep(60)\n"))
    await asyncio.sleep(1.0)
    assert {p.pid for p in psutil.Process().children(recursive=True)} - before  # the tool is running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    gone, alive = psutil.wait_procs(left, timeout=5)
    assert not alive


async def test_scratch_inside_a_hidden_directory_still_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "scratch").mkdir(parents=True)
    options = SandboxOptions(scratch_root=str(data_dir / "scratch"), hide_paths=(str(data_dir),))
    source = "def note():\n    open('note.txt', 'w').write('kept')\n    return open('note.txt').read()\n"
    result = await run_python_tool(ToolRun(source, "note", {}), FAST, options)
    assert not result.is_error and result.output == "kept"
