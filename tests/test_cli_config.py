"""Configuration precedence (explicit argument > environment > .env > default) and the CLI's use of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engram.config import Settings
from engram.runtime.supervisor import api_bind_host, redact


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ENGRAM_* or provider variables from the caller, and a cwd without a .env."""
    import os

    for key in list(os.environ):
        if key.startswith(("ENGRAM_", "OPENAI_", "ANTHROPIC_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_documented_local_setup() -> None:
    s = Settings()
    assert s.data_dir == Path(".engram") and s.database_url is None and s.temporal_address is None
    assert (s.api_host, s.api_port, s.temporal_port, s.temporal_ui_port) == ("127.0.0.1", 8283, 7233, 8233)
    assert s.temporal_ui_base == "http://127.0.0.1:8233" and s.temporal_namespace == "default"


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ENGRAM_API_PORT=9001\nENGRAM_DATABASE_URL=postgresql://u:p@db/engram\n")
    s = Settings()
    assert s.api_port == 9001 and s.database_url == "postgresql://u:p@db/engram"


def test_environment_beats_dotenv_and_explicit_argument_beats_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("ENGRAM_API_PORT=9001\nENGRAM_TEMPORAL_NAMESPACE=from-dotenv\n")
    monkeypatch.setenv("ENGRAM_API_PORT", "9002")
    s = Settings()
    assert s.api_port == 9002  # env over .env
    assert s.temporal_namespace == "from-dotenv"  # .env still fills what env does not set
    assert Settings(api_port=9003).api_port == 9003  # explicit over env


def test_provider_keys_use_their_conventional_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings()
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-test"
    assert s.anthropic_api_key is not None and s.anthropic_api_key.get_secret_value() == "ak-test"
    assert s.openai_base_url == "http://127.0.0.1:9/v1"
    assert "sk-test" not in repr(s)  # secrets never printed


def test_without_api_key_the_api_only_binds_loopback() -> None:
    assert api_bind_host(Settings(api_host="0.0.0.0")) == "127.0.0.1"
    assert api_bind_host(Settings(api_host="0.0.0.0", api_key="k")) == "0.0.0.0"
    assert api_bind_host(Settings(api_host="127.0.0.1")) == "127.0.0.1"


def test_database_passwords_are_redacted_when_printed() -> None:
    assert (
        redact("postgresql+psycopg://engram:s3cret@db:5432/engram")
        == "postgresql+psycopg://engram:***@db:5432/engram"
    )
    assert (
        redact("postgresql+psycopg://postgres@/engram?host=/tmp/x")
        == "postgresql+psycopg://postgres@/engram?host=/tmp/x"
    )


def test_status_reads_the_data_dir_from_dotenv_and_reports_nothing_running(tmp_path: Path) -> None:
    from engram.runtime import free_port

    (tmp_path / ".env").write_text(
        f"ENGRAM_DATA_DIR={tmp_path / 'elsewhere'}\nENGRAM_API_PORT={free_port()}\nENGRAM_TEMPORAL_PORT={free_port()}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "engram.cli", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"not running from {tmp_path / 'elsewhere'}" in result.stdout
    assert "not answering" in result.stdout and "not reachable" in result.stdout


def test_readme_configuration_table_lists_every_setting() -> None:
    from pydantic import AliasChoices

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        var = str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"ENGRAM_{name.upper()}"
        assert f"| `{var}` |" in table, f"README's configuration table lacks {var}"


def test_invalid_setting_is_reported_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ENGRAM_API_PORT=eighty\n")
    result = subprocess.run(
        [sys.executable, "-m", "engram.cli", "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "api_port" in result.stderr
    assert "Traceback" not in result.stderr
