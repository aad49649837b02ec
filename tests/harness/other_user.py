"""Another local user on the same machine (`nobody`), for tests of what kaiwa trusts: files it planted, locks it
holds. The tests run as root; the other user's actions run through `setpriv` as nobody, in a sticky shared folder
under /tmp that both can reach (as /tmp itself is)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY_UID = 65534
# The system's Python: the test venv's interpreter sits under /root, which nobody cannot enter.
SYSTEM_PYTHON = "/usr/bin/python3"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def as_nobody(code: str) -> None:
    """Run Python `code` as nobody, to its end; its failure fails the test."""
    subprocess.run([*AS_NOBODY, SYSTEM_PYTHON, "-c", code], check=True, capture_output=True, timeout=60)


@contextmanager
def held_by_nobody(code: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run Python `code` as nobody until the block ends; `code` prints a line once it holds what it holds."""
    proc = subprocess.Popen(
        [*AS_NOBODY, SYSTEM_PYTHON, "-c", code + "\nprint('held', flush=True)\nimport sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A folder every user may create files in, sticky like /tmp (mode 1777), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="kaiwa-shared-", dir="/tmp"))
    os.chmod(folder, 0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
