"""`engram keys` manages organizations and their keys in the database; a key is shown once, then only its prefix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _keys(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engram.cli", "keys", *args, "--url", database_url],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip


def test_keys_commands_create_issue_list_and_revoke(database_url: str) -> None:
    created = _keys(database_url, "create-org", "acme")
    assert created.returncode == 0, created.stderr
    org_id = created.stdout.split("\t")[0]
    assert org_id.startswith("org-") and org_id in _keys(database_url, "list-orgs").stdout
    issued = _keys(database_url, "issue", org_id, "--name", "ci")
    key_id, key = issued.stdout.splitlines()[0].split("\t")
    assert key.startswith("sk-engram-")
    listed = _keys(database_url, "list", org_id).stdout
    assert key_id in listed and "active" in listed and key not in listed  # the key itself is never shown again
    assert _keys(database_url, "revoke", key_id).returncode == 0
    assert "revoked" in _keys(database_url, "list", org_id).stdout
    missing = _keys(database_url, "issue", "org-00000000-0000-4000-8000-00000000dead")
    assert missing.returncode == 1 and "not found" in missing.stderr
