"""`sessions export -o FILE` writes whole or not at all: a temporary file in the same folder renamed over the
target, never through a link, never over the store, and a failure (a full disk) leaves the old file as it was.
chat.py runs as a subprocess; no model is needed (sessions come in through `sessions import`)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_sessions import A, B, export_doc, put
from tests.conftest import Kaiwa
from tests.harness.asserts import assert_one_line_failure


@pytest.fixture
def user(tmp_path: Path) -> Kaiwa:
    kaiwa = Kaiwa(tmp_path, {})
    put(kaiwa, export_doc(A, "the platypus plan", "what is 6*7?", "42, said the platypus"))
    return kaiwa


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_replaces_the_file_whole_and_private(user: Kaiwa) -> None:
    target = user.home / "backup.json"
    target.write_text("an older backup\n")
    os.chmod(target, 0o644)
    run = user("sessions", "export", A[-8:], "--format", "json", "-o", str(target))
    assert run.code == 0, run.err
    assert json.loads(target.read_text())["session"]["id"] == A
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in user.home.iterdir() if p.name.startswith(".backup")) == []  # no leftover


def test_export_never_writes_through_a_link(user: Kaiwa) -> None:
    bashrc = user.home / ".bashrc"
    bashrc.write_text("export PATH=$HOME/bin:$PATH\n")
    before = digest(bashrc)
    link = user.home / "export.md"
    link.symlink_to(bashrc)  # planted where the user exports
    run = user("sessions", "export", A[-8:], "-o", str(link))
    assert_one_line_failure(run, 2, str(link), "symbolic link")
    assert digest(bashrc) == before and link.is_symlink()


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_export_never_writes_over_the_store(user: Kaiwa, suffix: str) -> None:
    put(user, export_doc(B, "another one", "hi", "hello"))
    target = Path(f"{user.db}{suffix}")
    if suffix:  # a side file that exists while another process has the store open
        target.write_bytes(b"")
    for name in (str(target), os.path.relpath(target, user.home)):
        run = user("sessions", "export", A[-8:], "--format", "json", "-o", name)
        assert_one_line_failure(run, 2, "the session store itself")
    listed = user("sessions", "--json")
    assert listed.code == 0 and len(json.loads(listed.out)) == 2, listed.err


def test_a_full_disk_leaves_the_old_backup_as_it_was(user: Kaiwa, tmp_path: Path) -> None:
    """A small tmpfs, filled up, in a user and mount namespace of its own."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs unshare(1) and user namespaces")
    mnt = tmp_path / "small"
    mnt.mkdir()
    backup = mnt / "backup.json"
    export = " ".join(user.command("sessions", "export", A[-8:], "--format", "json", "-o", str(backup)))
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {mnt} && echo good-backup > {backup}"
        f" && (dd if=/dev/zero of={mnt}/filler bs=1k 2>/dev/null; true) && sha256sum {backup}"
        f" && {{ {export}; echo EXIT=$?; }}; sha256sum {backup}; cat {backup}; ls -a {mnt}"
    )
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=user.home,
        env={**user.env, "KAIWA_WARM": "0"},  # the warm process lives outside this mount namespace
        timeout=120,
    )
    out = proc.stdout.splitlines()
    hashes = [line.split()[0] for line in out if line.endswith(str(backup))]
    assert len(hashes) == 2 and hashes[0] == hashes[1], proc.stdout + proc.stderr
    assert "EXIT=1" in out and "good-backup" in out, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left" in errors[0] and "as it was" in errors[0], proc.stderr
    assert not [name for name in out if name.endswith(".part")]  # the temporary file is gone too
