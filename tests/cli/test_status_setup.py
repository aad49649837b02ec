"""The first hour (issue 32, items 3 and 4), in a private HOME against the real proxy: `chat.py setup` (on a pty, and
with flags) writes ~/.config/kaiwa/.env.app after checking the URL and key against the proxy; `chat.py status`
(and --json) then says which proxy, why, where the key comes from (never the key), the model, the store."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pexpect

from tests.conftest import CHAT, Kaiwa


def newcomer(tmp_path: Path) -> Kaiwa:
    """A user with nothing set: no LITELLM_* variable, a HOME of their own."""
    return Kaiwa(tmp_path, {"KAIWA_WARM": "0"})


def user_env_file(tmp_path: Path) -> Path:
    return tmp_path / ".config" / "kaiwa" / ".env.app"


def test_setup_with_flags_checks_the_key_and_writes_a_private_file(tmp_path: Path, proxy: Any) -> None:
    k = newcomer(tmp_path)
    refused = k("setup", "--url", proxy.base_url, "--key", "sk-not-the-key", "--model", "fake-a")
    assert refused.code != 0 and not user_env_file(tmp_path).exists()
    errors = [line for line in refused.err.splitlines() if line.strip()]
    assert len(errors) == 1 and "refused the key" in errors[0] and "sk-not-the-key" not in refused.err, refused.err

    unknown = k("setup", "--url", proxy.base_url, "--key", proxy.master_key, "--model", "no-such-alias")
    assert unknown.code == 2 and "does not offer the model 'no-such-alias'" in unknown.err
    assert not user_env_file(tmp_path).exists()

    user_env_file(tmp_path).parent.mkdir(parents=True)
    user_env_file(tmp_path).write_text("SESSION_DB_PATH=/kept/by/setup.sqlite3\nLITELLM_MODEL=old\n")
    done = k("setup", "--url", proxy.base_url, "--key", proxy.master_key, "--model", "fake-a")
    assert done.code == 0, done.err
    assert proxy.master_key not in done.out + done.err
    path = user_env_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not path.is_symlink()
    text = path.read_text()
    assert "SESSION_DB_PATH=/kept/by/setup.sqlite3" in text and "LITELLM_MODEL=old" not in text
    assert f"LITELLM_BASE_URL='{proxy.base_url}'" in text and "LITELLM_MODEL='fake-a'" in text


def test_setup_replaces_a_link_instead_of_writing_through_it(tmp_path: Path, proxy: Any) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    user_env_file(tmp_path).parent.mkdir(parents=True)
    user_env_file(tmp_path).symlink_to(victim)
    done = newcomer(tmp_path)("setup", "--url", proxy.base_url, "--key", proxy.master_key, "--model", "fake-a")
    assert done.code == 0, done.err
    assert victim.read_text() == "untouched\n" and not user_env_file(tmp_path).is_symlink()


def test_setup_on_a_terminal_asks_hides_the_key_and_picks_an_offered_model(tmp_path: Path, proxy: Any) -> None:
    k = newcomer(tmp_path)
    child = pexpect.spawn(
        sys.executable, [str(CHAT), "setup"], cwd=str(tmp_path), env=k.env, encoding="utf-8", timeout=120,
        dimensions=(30, 120),
    )  # fmt: skip
    try:
        child.expect("Proxy URL")
        child.sendline(proxy.base_url)
        child.expect("API key")
        child.sendline("sk-wrong-first")
        child.expect("refused that key")
        child.expect("API key")
        child.sendline(proxy.master_key)
        child.expect("wrote ")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    shown = child.before or ""
    assert proxy.master_key not in shown
    text = user_env_file(tmp_path).read_text()
    # The proxy offers kaiwa's default alias (the shipped config's), so that is the default model.
    assert "LITELLM_MODEL='bedrock-claude-3-5-sonnet'" in text and f"LITELLM_API_KEY='{proxy.master_key}'" in text


def test_status_says_which_proxy_why_and_never_the_key(tmp_path: Path, proxy: Any) -> None:
    k = newcomer(tmp_path)
    assert k("setup", "--url", proxy.base_url, "--key", proxy.master_key, "--model", "fake-a").code == 0
    path = str(user_env_file(tmp_path))

    shown = k("status")
    assert shown.code == 0, shown.err
    assert proxy.master_key not in shown.out + shown.err
    assert f"proxy: {proxy.base_url}" in shown.out
    assert f"LITELLM_BASE_URL in {path}" in shown.out and f"key: LITELLM_API_KEY in {path}" in shown.out
    assert "model: fake-a (LITELLM_MODEL in" in shown.out and "offered by the proxy" in shown.out
    assert f"conversations: {k.db}" in shown.out
    assert len(shown.out.splitlines()) <= 20

    other = k("status", "--json", LITELLM_MODEL="not-an-alias")
    info = json.loads(other.out)
    assert proxy.master_key not in other.out
    assert info["endpoint"] == {"url": proxy.base_url, "kind": "setting", "why": f"LITELLM_BASE_URL in {path}"}
    assert info["model"]["name"] == "not-an-alias" and info["model"]["offered"] is False
    assert info["model"]["source"] == "LITELLM_MODEL in the environment" and "fake-a" in info["model"]["aliases"]
    assert info["store"] == {"kind": "sqlite", "where": str(k.db)}
    assert info["gateway"]["running"] is False and info["warm"] == {"running": False, "off": True}


def test_status_imports_no_sdk(tmp_path: Path, proxy: Any) -> None:
    k = newcomer(tmp_path)
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{str(CHAT)!r}, 'status']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('openai', 'agents') if m in sys.modules))\n"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={**k.env, "LITELLM_BASE_URL": proxy.base_url},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "LOADED []" in done.stdout, done.stdout + done.stderr
    assert os.path.exists(CHAT)
