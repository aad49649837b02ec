"""Settings precedence: process environment over `.env.app` over defaults."""

from pathlib import Path

import pytest

from kaiwa.errors import UsageError
from kaiwa.settings import DB_NAME, DEFAULT_BASE_URL, DEFAULT_MODEL, load_settings

NAMES = ["LITELLM_BASE_URL", "LITELLM_API_KEY", "LITELLM_MODEL", "SESSION_DB_PATH", "KAIWA_REASONING", "KAIWA_TIMEOUT"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES + ["KAIWA_MAX_RETRIES", "KAIWA_MCP_CONFIG"]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME")
    s = load_settings(tmp_path / "missing.env")
    assert s.base_url == DEFAULT_BASE_URL and not s.base_url_from_user
    assert s.model == DEFAULT_MODEL
    # the data folder, not the current one: every folder sees the same conversations
    assert s.db_path == tmp_path / ".local" / "share" / "kaiwa" / DB_NAME and s.db_path_default
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert load_settings(None).db_path == tmp_path / "data" / "kaiwa" / DB_NAME
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")  # ignored, as the XDG spec says
    assert load_settings(None).db_path == tmp_path / ".local" / "share" / "kaiwa" / DB_NAME
    monkeypatch.setenv("SESSION_DB_PATH", "chats.sqlite3")
    assert load_settings(None).db_path == Path("chats.sqlite3") and not load_settings(None).db_path_default
    assert s.api_key is None and s.reasoning is None


def test_env_file_is_read(tmp_path: Path) -> None:
    f = tmp_path / ".env.app"
    f.write_text("LITELLM_BASE_URL=http://127.0.0.1:9/v1/\nLITELLM_MODEL=local\nLITELLM_API_KEY=sk-file\n")
    s = load_settings(f)
    assert s.base_url == "http://127.0.0.1:9/v1" and s.base_url_from_user
    assert s.model == "local" and s.api_key == "sk-file"


def test_process_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / ".env.app"
    f.write_text("LITELLM_MODEL=from-file\nLITELLM_API_KEY=sk-file\n")
    monkeypatch.setenv("LITELLM_MODEL", "from-env")
    s = load_settings(f)
    assert s.model == "from-env"
    assert s.api_key == "sk-file"


def test_tilde_in_db_path_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SESSION_DB_PATH", "~/chats.sqlite3")
    assert load_settings(None).db_path == tmp_path / "chats.sqlite3"


@pytest.mark.parametrize(("name", "value"), [("KAIWA_TIMEOUT", "soon"), ("KAIWA_REASONING", "extreme")])
def test_bad_values_are_usage_errors(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as info:
        load_settings(None)
    assert name in info.value.line()
