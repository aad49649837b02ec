"""Issue 29, items 13, 9 and 10: `-c` / `-s` continue on the model the session last used (as llm and aichat do)
unless --model or a role says otherwise; a bad SSL_CERT_FILE and a deleted current folder are one line each; limits
are printed as the whole numbers a person types. chat.py as a subprocess, through the REAL proxy where a turn runs
(the stand-in records which model was asked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CHAT, Kaiwa, Run
from tests.roles.helpers import user_roles, write_role
from tests.standins.openai_compat import OpenAIChatStandIn


def asked(upstream: OpenAIChatStandIn) -> list[str]:
    return [r.body["model"].removesuffix("-upstream") for r in upstream.model_requests()]


def one_line(run: Run, code: int) -> str:
    assert run.code == code, (run.code, run.err)
    lines = run.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.err and "unexpected" not in run.err, run.err
    return lines[0]


def test_continuing_keeps_the_sessions_model(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    write_role(user_roles(kaiwa.home / ".config"), "native", "Be brief.\n", "model: fake-b\n")
    sid = kaiwa("-m", "fake-b", "-i", "one").session_id  # LITELLM_MODEL is fake-a
    assert sid is not None
    for args in (["-c"], ["-s", sid], ["-s", sid[-8:]]):
        assert kaiwa(*args, "-i", "again").code == 0
    assert kaiwa("-c", "-m", "fake-a", "-i", "switch").code == 0  # --model wins, and the session now uses it
    assert kaiwa("-c", "-i", "after").code == 0
    assert kaiwa("-c", "-r", "native", "-i", "role").code == 0  # a role's model wins over the session's
    assert asked(upstream) == ["fake-b", "fake-b", "fake-b", "fake-b", "fake-a", "fake-a", "fake-b"]
    assert kaiwa("-i", "new").code == 0  # a new session: LITELLM_MODEL
    assert asked(upstream)[-1] == "fake-a"


def test_a_bad_ssl_cert_file_is_one_line(kaiwa: Kaiwa, tmp_path: Path) -> None:
    (tmp_path / "not-pem.txt").write_text("hello\n")
    missing = one_line(kaiwa("-i", "hi", SSL_CERT_FILE=str(tmp_path / "nope.pem")), 2)
    assert missing == (
        f"error: SSL_CERT_FILE='{tmp_path / 'nope.pem'}' cannot be used: No such file or directory"
        " — point SSL_CERT_FILE at your CA certificates (PEM), or unset it"
    )
    garbage = one_line(kaiwa("-i", "hi", SSL_CERT_FILE=str(tmp_path / "not-pem.txt")), 2)
    assert garbage.startswith(f"error: SSL_CERT_FILE='{tmp_path / 'not-pem.txt'}' cannot be used: it holds no PEM")


@pytest.mark.parametrize("args", [["-i", "hi"], ["sessions"], ["roles"]])
def test_a_deleted_current_folder_is_one_line(kaiwa: Kaiwa, args: list[str]) -> None:
    gone = kaiwa.home / "gone"
    gone.mkdir()
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    proc = subprocess.run(
        ["sh", "-c", script, "sh", str(gone), sys.executable, str(CHAT), *args],
        capture_output=True, text=True, env={**kaiwa.env, "SESSION_DB_PATH": "sessions.sqlite3"}, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    line = one_line(Run(proc.returncode, proc.stdout, proc.stderr), 2)
    assert line == (
        "error: the current folder no longer exists (it was deleted or moved away)"
        " — cd to a folder that exists (e.g. cd ~) and run it again"
    )


def test_limits_are_whole_numbers(kaiwa: Kaiwa) -> None:
    setting = one_line(kaiwa("-i", "hi", KAIWA_MAX_OUTPUT_TOKENS="1e11"), 2)
    assert setting == (
        "error: KAIWA_MAX_OUTPUT_TOKENS='1e11' is too large — set KAIWA_MAX_OUTPUT_TOKENS to at most 2147483647,"
        " e.g. KAIWA_MAX_OUTPUT_TOKENS=2000"
    )
    flag = one_line(kaiwa("-i", "hi", "--max-output-tokens", "100000000000"), 2)
    assert flag == "error: --max-output-tokens 100000000000 is too large — give at most 2147483647, e.g. 2000"
    roles = user_roles(kaiwa.home / ".config")
    write_role(roles, "long", "x\n", "max_output_tokens: 1.0e+11\n")
    role = one_line(kaiwa("-r", "long", "-i", "hi"), 2)
    assert role.endswith(
        "long.md, line 2: max_output_tokens 100000000000 is too large — give at most 2147483647, e.g. 2000"
    )
    assert "e+" not in one_line(kaiwa("-i", "hi", KAIWA_TIMEOUT="1e9"), 2)
