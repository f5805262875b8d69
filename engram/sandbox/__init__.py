"""Sandboxed execution of user-supplied Python tools (no Temporal or FastAPI here; the tools activity drives it).

`run_python_tool(ToolRun, SandboxLimits)` runs one call in a confined subprocess and always returns a
`SandboxResult`; see runner.py for what the confinement is and README "Custom tools" for its limits.
"""

from engram.sandbox.limits import DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S, SandboxLimits
from engram.sandbox.runner import SandboxOptions, SandboxResult, ToolRun, run_python_tool

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_TIMEOUT_S",
    "SandboxLimits",
    "SandboxOptions",
    "SandboxResult",
    "ToolRun",
    "run_python_tool",
]
