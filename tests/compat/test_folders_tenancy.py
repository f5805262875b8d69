"""Multi-tenant mode: an organization never sees, changes or attaches another organization's folders and files."""

from __future__ import annotations

import httpx
import pytest
from letta_client import Letta, NotFoundError

from engram.config import Settings

ADMIN = "admin-key-folders-0123456789"


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"admin_key": ADMIN})


def _client(live_url: str, name: str) -> Letta:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    org = httpx.post(f"{live_url}/v1/admin/organizations", headers=headers, json={"name": name}).json()
    key = httpx.post(f"{live_url}/v1/admin/organizations/{org['id']}/keys", headers=headers, json={}).json()[
        "key"
    ]
    return Letta(base_url=live_url, api_key=key, max_retries=0)


def test_folders_and_files_stay_inside_their_organization(live_url: str) -> None:
    alice, bob = _client(live_url, "alice"), _client(live_url, "bob")
    folder = alice.folders.create(name="private")
    file = alice.folders.files.upload(folder.id, file=("notes.txt", b"alice's notes", "text/plain"))
    bob_agent = bob.agents.create(name="bob-agent", model="engram/offline")

    assert list(bob.folders.list()) == [] and bob.get("/v1/folders/count", cast_to=int) == 0
    for attempt in (
        lambda: bob.folders.retrieve(folder.id),
        lambda: bob.folders.files.list(folder.id),
        lambda: bob.folders.files.retrieve(file.id, folder_id=folder.id),
        lambda: bob.folders.files.upload(folder.id, file=("x.txt", b"x", "text/plain")),
        lambda: bob.folders.files.delete(file.id, folder_id=folder.id),
        lambda: bob.folders.delete(folder.id),
        lambda: bob.agents.folders.attach(folder.id, agent_id=bob_agent.id),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    assert bob.folders.create(name="private").id != folder.id  # names are unique per organization only
    assert [f.id for f in alice.folders.files.list(folder.id)] == [file.id]
