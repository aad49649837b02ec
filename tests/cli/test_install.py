"""kaiwa as an installed command: `uv tool install .` gives a `kaiwa` that works from any folder, ships the
proxy's config and locked project, and reads `.env.app` from the current folder, then ~/.config/kaiwa."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.harness.proxy import _uv
from tests.standins.script import Reply


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `kaiwa` executable of a fresh tool install (its own tool and bin folders, never the user's)."""
    root = tmp_path_factory.mktemp("tool")
    env = {**os.environ, "UV_TOOL_DIR": str(root / "tools"), "UV_TOOL_BIN_DIR": str(root / "bin")}
    env.pop("VIRTUAL_ENV", None)
    # The interpreter behind this venv: uv would otherwise try to download one (no network here).
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run(
        [*_uv(), "tool", "install", "--python", str(python), "--compile-bytecode", str(REPO)],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return root / "bin" / "kaiwa"


def _user_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "KAIWA_STATE_DIR": str(home / "state"),
        "KAIWA_MCP_CONFIG": "",
        "NO_COLOR": "1",
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", ""),  # the run's one warm process
        **extra,
    }


def test_installed_kaiwa_ships_the_proxy_files(installed: Path) -> None:
    out = subprocess.run(
        [
            str(installed.parent.parent / "tools" / "kaiwa" / "bin" / "python"),
            "-c",
            "from kaiwa.gateway import launch; print(launch.INSTALLED, launch.config_path(), launch.GATEWAY_PROJECT)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout.split()
    assert out[0] == "True"  # not this checkout: the copies inside the package
    assert Path(out[1]).is_file() and Path(out[1]).read_text() == (REPO / "litellm_config.yaml").read_text()
    assert (Path(out[2]) / "uv.lock").read_text() == (REPO / "proxy" / "uv.lock").read_text()


def test_installed_kaiwa_help_from_another_folder(installed: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [str(installed), "--help"], capture_output=True, text=True, cwd=tmp_path, env=_user_env(tmp_path), timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "--input" in run.stdout and "sessions" in run.stdout


def test_installed_kaiwa_answers_with_settings_from_the_user_config(
    installed: Path, tmp_path: Path, proxy: object, upstream: object
) -> None:
    """No .env.app in the folder: the proxy settings come from ~/.config/kaiwa/.env.app."""
    config = tmp_path / ".config" / "kaiwa"
    config.mkdir(parents=True)
    (config / ".env.app").write_text(
        f"LITELLM_BASE_URL={proxy.base_url}\nLITELLM_API_KEY={proxy.master_key}\n"  # type: ignore[attr-defined]
        f"LITELLM_MODEL=fake-a\nSESSION_DB_PATH={tmp_path / 'chats.sqlite3'}\n"
    )
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    upstream.script(Reply(text="hello from the installed kaiwa"))  # type: ignore[attr-defined]
    run = subprocess.run(
        [str(installed), "--input", "hi"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=_user_env(tmp_path),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "hello from the installed kaiwa" in run.stdout
    assert "SESSION_ID=" in run.stderr
    assert (tmp_path / "chats.sqlite3").is_file()


def test_installed_kaiwa_keeps_one_store_for_every_folder(
    installed: Path, tmp_path: Path, proxy: object, upstream: object
) -> None:
    """No SESSION_DB_PATH: a conversation started in one folder continues from another (~/.local/share/kaiwa)."""
    env = _user_env(
        tmp_path,
        LITELLM_BASE_URL=proxy.base_url,  # type: ignore[attr-defined]
        LITELLM_API_KEY=proxy.master_key,  # type: ignore[attr-defined]
        LITELLM_MODEL="fake-a",
    )
    upstream.script(Reply(text="started here"), Reply(text="continued there"))  # type: ignore[attr-defined]
    sids = []
    for folder, args in (("a", ["--input", "hi"]), ("b", ["-c", "--input", "again"])):
        (tmp_path / folder).mkdir()
        run = subprocess.run(
            [str(installed), *args], capture_output=True, text=True, cwd=tmp_path / folder, env=env, timeout=120
        )
        assert run.returncode == 0, run.stderr
        sids += [line.split("=", 1)[1] for line in run.stderr.splitlines() if line.startswith("SESSION_ID=")]
        assert not (tmp_path / folder / "sessions.sqlite3").exists()
    assert len(sids) == 2 and sids[0] == sids[1]
    assert (tmp_path / ".local" / "share" / "kaiwa" / "sessions.sqlite3").is_file()


def test_env_app_in_the_folder_wins_over_the_user_config(installed: Path, tmp_path: Path) -> None:
    config = tmp_path / ".config" / "kaiwa"
    config.mkdir(parents=True)
    (config / ".env.app").write_text("LITELLM_MODEL=from-user-config\nKAIWA_TIMEOUT=7\n")
    (tmp_path / ".env.app").write_text("LITELLM_MODEL=from-folder\n")
    python = installed.parent.parent / "tools" / "kaiwa" / "bin" / "python"
    code = "from kaiwa.settings import load_settings as l; s = l(); print(s.model, s.timeout)"
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=_user_env(tmp_path), check=True
    )
    assert run.stdout.split() == ["from-folder", "7.0"]
    run = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_user_env(tmp_path, LITELLM_MODEL="from-env"),
        check=True,
    )
    assert run.stdout.split() == ["from-env", "7.0"]
