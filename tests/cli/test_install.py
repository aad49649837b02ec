"""kaiwa as an installed command: `uv tool install .` gives a `kaiwa` that works from any folder, ships the
proxy's config and locked project, and reads `.env.app` from the current folder, then ~/.config/kaiwa."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.harness.proxy import _uv
from tests.standins.script import Reply


def readme_install_command() -> str:
    """The install line of README.md's "Installing the `kaiwa` command" (the test runs what the README says)."""
    section = (REPO / "README.md").read_text().split("## Installing the `kaiwa` command", 1)[1]
    return next(line for line in section.splitlines() if line.startswith("uv tool install"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `kaiwa` executable of a fresh tool install as the README says (its own tool and bin folders)."""
    root = tmp_path_factory.mktemp("tool")
    env = {**os.environ, "UV_TOOL_DIR": str(root / "tools"), "UV_TOOL_BIN_DIR": str(root / "bin")}
    env.pop("VIRTUAL_ENV", None)
    # The interpreter behind this venv: uv would otherwise try to download one (no network here).
    env["UV_PYTHON"] = str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
    done = subprocess.run(
        ["bash", "-c", readme_install_command()], env=env, cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return root / "bin" / "kaiwa"


def locked_versions() -> dict[str, str]:
    exported = subprocess.run(
        [*_uv(), "export", "--frozen", "--no-dev", "--all-extras", "--no-hashes", "--no-emit-project"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pins = [line.split(";")[0].strip() for line in exported.splitlines() if "==" in line and not line.startswith("#")]
    return {canonical(name): version for name, version in (pin.split("==") for pin in pins)}


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_the_readme_install_gets_the_locked_versions(installed: Path) -> None:
    """Issue 32.8: a plain `uv tool install .` ignores uv.lock (openai 3.63.0 against the locked 3.54.0)."""
    python = installed.parent.parent / "tools" / "kaiwa" / "bin" / "python"
    code = "import json, importlib.metadata as m; print(json.dumps({d.name: d.version for d in m.distributions()}))"
    found = {canonical(k): v for k, v in json.loads(subprocess.check_output([str(python), "-c", code])).items()}
    locked = locked_versions()
    assert "openai" in locked and found["openai"] == locked["openai"]
    differ = {
        name: (found[name], version) for name, version in locked.items() if name in found and found[name] != version
    }
    assert differ == {}
    assert set(found) - set(locked) <= {"kaiwa"}  # nothing the lock does not name


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
