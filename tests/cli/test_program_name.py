"""The program names itself as it was called: `chat.py …` from a checkout, `kaiwa …` through the installed command
— in hints, usage errors and --help — also when the warm process (started by one of them) serves the other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import CHAT, Kaiwa, Run


def as_installed(kaiwa: Kaiwa, tmp_path: Path, *args: str) -> Run:
    """The call as the installed console script makes it: the program is named `kaiwa`."""
    command = tmp_path / "bin" / "kaiwa"
    command.parent.mkdir(exist_ok=True)
    if not command.exists():
        command.symlink_to(CHAT)
    proc = subprocess.run(
        [sys.executable, str(command), *args], capture_output=True, text=True, cwd=kaiwa.home, env=kaiwa.env,
        timeout=120,
    )  # fmt: skip
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_hints_name_the_program_as_called(kaiwa: Kaiwa, tmp_path: Path) -> None:
    from_checkout = kaiwa("sessions", "show", "zzzzzzzz")
    assert from_checkout.code != 0 and "`chat.py sessions`" in from_checkout.err
    installed = as_installed(kaiwa, tmp_path, "sessions", "show", "zzzzzzzz")
    assert installed.code == from_checkout.code  # the same failure, in the words of the name it was called by
    assert "`kaiwa sessions`" in installed.err and "chat.py" not in installed.err
    empty = as_installed(kaiwa, tmp_path, "sessions")
    assert 'start one: kaiwa --input "…"' in empty.err


def test_usage_errors_and_help_name_the_program_as_called(kaiwa: Kaiwa, tmp_path: Path) -> None:
    bad = as_installed(kaiwa, tmp_path, "--no-such-flag")
    assert bad.code == 2 and bad.err.strip() == "error: no such option: --no-such-flag — see `kaiwa --help`"
    shown = as_installed(kaiwa, tmp_path, "--help")
    assert shown.code == 0 and "Usage: kaiwa " in shown.out and 'kaiwa --input "こんにちは"' in shown.out
    assert "chat.py" not in shown.out
    assert "chat.py --input" in kaiwa("--help").out  # from a checkout, as before
