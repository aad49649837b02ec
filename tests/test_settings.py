"""Settings precedence: process environment over `.env.app` over defaults."""

from pathlib import Path

import pytest

from kaiwa import trust
from kaiwa.errors import UsageError
from kaiwa.settings import DB_NAME, DEFAULT_BASE_URL, DEFAULT_MODEL, load_settings

NAMES = ["LITELLM_BASE_URL", "LITELLM_API_KEY", "LITELLM_MODEL", "SESSION_DB_PATH", "KAIWA_REASONING", "KAIWA_TIMEOUT"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in NAMES + ["KAIWA_MAX_RETRIES", "KAIWA_MCP_CONFIG"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAIWA_STATE_DIR", str(tmp_path / "state"))  # the trust records: none yet
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


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
    trust.trust(tmp_path)
    s = load_settings(f)
    assert s.base_url == "http://127.0.0.1:9/v1" and s.base_url_from_user
    assert s.model == "local" and s.api_key == "sk-file"


def test_an_untrusted_folder_sets_only_harmless_settings(tmp_path: Path) -> None:
    f = tmp_path / ".env.app"
    f.write_text(
        "LITELLM_BASE_URL=http://127.0.0.1:9/v1/\nLITELLM_MODEL=local\nLITELLM_API_KEY=sk-file\n"
        "KAIWA_MAX_COST_DAY=1000\n"  # would lift the user's own cap: a folder's file wins over ~/.config/kaiwa
    )
    (tmp_path / "config" / "kaiwa").mkdir(parents=True)
    (tmp_path / "config" / "kaiwa" / ".env.app").write_text("KAIWA_MAX_COST_DAY=2\n")
    s = load_settings(f)
    assert (s.base_url, s.base_url_from_user, s.api_key, s.model) == (DEFAULT_BASE_URL, False, None, "local")
    assert s.max_cost_day == 2
    assert s.untrusted == (
        f"ignored LITELLM_BASE_URL, LITELLM_API_KEY, KAIWA_MAX_COST_DAY from {f}: {tmp_path} is not trusted"
        " — if you trust it, `chat.py trust` (asked again if it changes)"
    )
    trust.trust(tmp_path)
    f.write_text("LITELLM_BASE_URL=http://127.0.0.1:9/v1/\n")  # changed since: asked again
    s = load_settings(f)
    assert s.base_url == DEFAULT_BASE_URL and s.untrusted is not None and "changed since you trusted it" in s.untrusted


def test_process_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / ".env.app"
    f.write_text("LITELLM_MODEL=from-file\nLITELLM_API_KEY=sk-file\n")
    trust.trust(tmp_path)
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
