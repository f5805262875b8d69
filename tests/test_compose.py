"""docker-compose.yml cannot run here (no Docker); check what a deployer relies on instead: every service
the README documents exists, start order and healthchecks are wired, and the addresses point at the
right services and databases."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def interpolate(value: Any) -> Any:
    """Resolve `${VAR:-default}` to its default and `${VAR:?msg}` to a placeholder, as compose would
    with the variable unset (the `:?` ones must be set by the deployer)."""
    if isinstance(value, str):
        value = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value)
        return re.sub(r"\$\{(\w+):\?[^}]*\}", r"<required \1>", value)
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    return value


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(COMPOSE.read_text())
    return interpolate(data["services"])  # type: ignore[no-any-return]


def env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def depends(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


def readme_services() -> list[str]:
    section = ROOT.joinpath("README.md").read_text().split("## Deploy with docker-compose", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M)


def test_every_service_the_readme_documents_exists(services: dict[str, dict[str, Any]]) -> None:
    documented = readme_services()
    assert len(documented) >= 8
    assert set(documented) == set(services), "README's service table and docker-compose.yml disagree"


def test_images_are_the_required_ones(services: dict[str, dict[str, Any]]) -> None:
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg16")
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-admin-tools"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert not any("auto-setup" in str(s.get("image", "")) for s in services.values())  # deprecated image


def test_engram_services_share_one_image_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    engram = {name: s for name, s in services.items() if name.startswith("engram-")}
    assert set(engram) == {"engram-api", "engram-worker", "engram-migrate"}
    for service in engram.values():
        assert service["build"]["context"] == "." and service["build"]["dockerfile"] == "Dockerfile"
    assert len({s["image"] for s in engram.values()}) == 1
    assert (ROOT / "Dockerfile").exists()
    assert services["engram-api"]["command"] == ["engram", "api"]
    assert services["engram-worker"]["command"] == ["engram", "worker"]
    assert services["engram-migrate"]["command"] == ["engram", "db", "upgrade"]


def test_start_order_and_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name in ("postgres", "temporal", "engram-api"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert depends(services["temporal-admin-tools"]) == {"postgres": "service_healthy"}
    assert depends(services["temporal"]) == {"temporal-admin-tools": "service_completed_successfully"}
    assert depends(services["temporal-create-namespace"]) == {"temporal": "service_healthy"}
    assert depends(services["temporal-ui"]) == {"temporal": "service_healthy"}
    assert depends(services["engram-migrate"]) == {"postgres": "service_healthy"}
    for name in ("engram-api", "engram-worker"):
        assert depends(services[name]) == {
            "engram-migrate": "service_completed_successfully",
            "temporal-create-namespace": "service_completed_successfully",
        }
    for one_shot in ("temporal-admin-tools", "temporal-create-namespace", "engram-migrate"):
        assert services[one_shot]["restart"] == "no"
    assert "/v1/health/" in " ".join(services["engram-api"]["healthcheck"]["test"])


def test_engram_is_wired_to_postgres_and_temporal(services: dict[str, dict[str, Any]]) -> None:
    for name in ("engram-api", "engram-worker", "engram-migrate"):
        e = env(services[name])
        db = urlsplit(e["ENGRAM_DATABASE_URL"])
        assert (db.scheme, db.hostname, db.port, db.path, db.username) == (
            "postgresql+psycopg", "postgres", 5432, "/engram", "engram",
        )  # fmt: skip
        assert e["ENGRAM_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert e["ENGRAM_TEMPORAL_NAMESPACE"] == "default"
    api = env(services["engram-api"])
    assert api["ENGRAM_API_HOST"] == "0.0.0.0" and api["ENGRAM_API_PORT"] == "8283"
    assert api["ENGRAM_API_KEY"].startswith("<required")  # listening on all interfaces demands a key
    assert "8283:8283" in services["engram-api"]["ports"]


def test_temporal_is_wired_to_its_databases_and_the_ui_to_temporal(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("temporal", "temporal-admin-tools"):
        e = env(services[name])
        assert (e["DB"], e["POSTGRES_SEEDS"], e["DB_PORT"]) == ("postgres12", "postgres", "5432")
        assert (e["DBNAME"], e["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
        assert e["POSTGRES_USER"] == "temporal"
    assert env(services["temporal"])["BIND_ON_IP"] == "0.0.0.0"
    assert env(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env(services["temporal-create-namespace"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_mounted_setup_files_exist_and_create_what_the_services_use(
    services: dict[str, dict[str, Any]],
) -> None:
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"mounted {source} is missing"
    init_sql = (ROOT / "deploy/postgres/10-engram-init.sh").read_text()
    for stmt in ("CREATE DATABASE engram OWNER engram", "CREATE DATABASE temporal OWNER temporal",
                 "CREATE DATABASE temporal_visibility OWNER temporal", "CREATE EXTENSION IF NOT EXISTS vector"):  # fmt: skip
        assert stmt in init_sql
    pg_env = env(services["postgres"])
    assert {"ENGRAM_DB_PASSWORD", "TEMPORAL_DB_PASSWORD"} <= set(pg_env)  # the init script reads them
    namespace_script = (ROOT / "deploy/temporal/create-namespace.sh").read_text()
    assert "AgentId OrgId" in namespace_script and "--type Keyword" in namespace_script
    dynamic = env(services["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]
    assert (ROOT / "deploy/temporal/dynamicconfig" / Path(dynamic).name).exists()
