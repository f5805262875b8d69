"""A worker in its own process (settings from ENGRAM_* env), so a test can SIGKILL it mid-activity."""

from __future__ import annotations

import worker

if __name__ == "__main__":
    worker.main()
