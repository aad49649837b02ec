"""A warm process of its own (its own runtime folder): never stale (an edited copy of kaiwa runs its new code),
private (0700 folder, a stranger's uid refused, no secret in any file or in its environment), and every fault
(a stale socket, too many callers, KAIWA_WARM=0) a cold run that --debug explains."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaiwa.warm import protocol
from kaiwa.warm.client import query
from kaiwa.warm.paths import Files, install_key
from tests.conftest import REPO, Kaiwa
from tests.harness import warm
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply
from tests.warm.conftest import alive, call, wait_until

WARM_CLIENT = ("", ".client", ".paths", ".protocol", ".stamp")
SECRET = "sk-test-warm-secret-5c0f1e"  # a value no file and no environment of the warm process may hold


def _status(files: Files) -> dict[str, Any] | None:
    answer = query(files, "status")
    return answer if isinstance(answer, dict) else None


def test_an_edited_copy_runs_its_new_code_and_the_warm_process_idles_out(kaiwa: Kaiwa, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "kaiwa", copy / "kaiwa", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("chat.py", "pyproject.toml", "uv.lock", "litellm_config.yaml"):
        shutil.copy2(REPO / name, copy / name)
    env = {**kaiwa.env, "KAIWA_WARM_IDLE_MINUTES": "0.25"}
    files = Files(str(Path(env["XDG_RUNTIME_DIR"]) / "kaiwa"), install_key(str(copy / "kaiwa")))

    def help_text(*extra: str) -> Any:
        return call(env, kaiwa.home, *extra, "--help", script=copy / "chat.py")

    assert "kaiwa: chat with models" in help_text().out  # cold: it starts the copy's own warm process
    first = wait_until(lambda: _status(files), 120, "the copy's warm process")
    assert "kaiwa: chat with models" in help_text().out
    assert _status(files)["served"] == 1  # type: ignore[index]

    common = copy / "kaiwa" / "cli" / "common.py"
    common.write_text(common.read_text().replace("kaiwa: chat with models", "kaiwa (edited): chat with models"))
    edited = help_text("--debug")
    assert "kaiwa (edited): chat with models" in edited.out  # the new code, at once (a cold run)
    # The edit retires the warm process (its code changed): at once by inotify, or at this call by the stamp.
    assert "running cold" in edited.err and ("changed" in edited.err or "no warm process" in edited.err), edited.err
    second = wait_until(lambda: (s := _status(files)) and s["pid"] != first["pid"] and s, 120, "a new warm process")
    assert not alive(first["pid"])  # type: ignore[index]
    again = help_text()
    assert "kaiwa (edited): chat with models" in again.out and _status(files)["served"] == 1  # type: ignore[index]
    wait_until(lambda: not alive(second["pid"]), 90, "the idle warm process exits by itself")  # type: ignore[index]


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory, proxy: Any) -> Iterator[dict[str, Any]]:
    """A runtime folder with a stale socket in it (a warm process that crashed), and a first call that finds
    it: that call runs cold and starts this folder's own warm process, with at most one call at a time."""
    root = tmp_path_factory.mktemp("private")
    runtime = root / "rt"
    runtime.mkdir(mode=0o700)
    home = root / "home"
    home.mkdir()
    user = Kaiwa(home, {"LITELLM_BASE_URL": proxy.base_url, "LITELLM_API_KEY": proxy.master_key})
    user.env.update(
        XDG_RUNTIME_DIR=str(runtime), KAIWA_WARM_MAX_CALLS="1", LITELLM_MODEL="fake-a", WARM_TEST_TOKEN=SECRET
    )
    folder = runtime / "kaiwa"
    folder.mkdir(mode=0o700)
    files = Files(str(folder), install_key())
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(files.socket)
    stale.close()  # the file stays, nobody listens
    first = user("--input", "hi", "--debug")
    info = wait_until(lambda: _status(files), 120, "the private warm process")
    yield {"user": user, "files": files, "folder": folder, "first": first, "info": info, "root": root}
    warm.stop_all(runtime)


def served(private: dict[str, Any]) -> int:
    return int(_status(private["files"])["served"])  # type: ignore[index]


def test_a_stale_socket_means_a_cold_run_that_starts_a_new_warm_process(private: dict[str, Any]) -> None:
    first = private["first"]
    assert first.code == 0 and first.out == "ok\n", first.err
    assert "kaiwa: running cold (the warm process is gone (a stale socket))" in first.err
    assert private["info"]["served"] == 0


def test_the_runtime_folder_and_its_files_are_the_users_only(private: dict[str, Any]) -> None:
    folder: Path = private["folder"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()
    modes = {p.name.rsplit(".", 1)[-1]: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes == {"sock": 0o600, "lock": 0o600, "json": 0o600, "log": 0o600}, modes


def test_secrets_reach_the_call_but_no_file_and_not_the_warm_process(private: dict[str, Any]) -> None:
    user: Kaiwa = private["user"]
    before = served(private)
    run = user("--input", "hi")  # warm: LITELLM_API_KEY reached the child (the proxy took it)
    assert run.code == 0 and served(private) == before + 1, run.err
    secrets = [SECRET.encode(), user.env["LITELLM_API_KEY"].encode()]
    for root in (private["folder"], user.home):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_socket():
                data = path.read_bytes()
                assert not any(s in data for s in secrets), f"a secret in {path}"
    pid = private["info"]["pid"]
    for part in ("environ", "cmdline"):
        data = Path(f"/proc/{pid}/{part}").read_bytes()
        assert not any(s in data for s in secrets), f"a secret in the warm process's {part}"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_a_caller_of_another_uid_is_refused(private: dict[str, Any]) -> None:
    """The folder is 0700; a stranger who reached the socket anyway (here: its mode opened for the test, and
    the socket reached through an fd, so the folder is not crossed) is refused by its uid (SO_PEERCRED)."""
    files: Files = private["files"]
    path_fd = os.open(files.socket, os.O_PATH)
    os.chmod(files.socket, 0o666)
    try:
        pid = os.fork()
        if pid == 0:  # the stranger: nobody
            code = 9
            try:
                os.setgid(65534)
                os.setuid(65534)
                ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: keep /proc/self/fd readable
                sock = socket.socket(socket.AF_UNIX)
                sock.settimeout(10)
                sock.connect(f"/proc/self/fd/{path_fd}")
                try:
                    protocol.send(sock, {"op": "status"})
                    code = 0 if sock.recv(64) == b"" else 1  # closed without a word
                except (ConnectionResetError, BrokenPipeError):
                    code = 0  # closed with our request unread: refused all the same
            except OSError as exc:
                os.write(2, f"the stranger: {exc!r}\n".encode())
                code = 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        os.chmod(files.socket, 0o600)
        os.close(path_fd)
    assert os.waitstatus_to_exitcode(status) == 0
    log = Path(files.log).read_text()
    assert "refused a caller with uid 65534" in log


def test_too_many_callers_and_kaiwa_warm_0_run_cold_and_say_why(
    private: dict[str, Any], upstream: OpenAIChatStandIn
) -> None:
    user: Kaiwa = private["user"]
    upstream.script(Reply(text="slow answer", delay=4), Reply(text="quick answer"))
    before = served(private)
    slow = user.start("--input", "slow")
    wait_until(lambda: _status(private["files"])["running"] == 1, 30, "the slow call running")  # type: ignore[index]
    quick = user("--input", "quick", "--debug")
    assert quick.code == 0 and quick.out == "quick answer\n"
    assert "kaiwa: running cold (1 calls already running)" in quick.err
    out, _ = slow.communicate(timeout=60)
    assert slow.returncode == 0 and out == "slow answer\n"
    assert served(private) == before + 1
    off = user("--input", "off", "--debug", KAIWA_WARM="0")
    assert off.code == 0 and "kaiwa: running cold (KAIWA_WARM=0)" in off.err
    assert served(private) == before + 1


def test_warm_status_and_stop(private: dict[str, Any]) -> None:
    user: Kaiwa = private["user"]
    status = user("warm", "status")
    assert status.code == 0, status.err
    pid = private["info"]["pid"]
    assert f"warm kaiwa: running, pid {pid}" in status.out and "calls: " in status.out and " MB" in status.out
    stop = user("warm", "stop")  # served by the very process it stops: it finishes this call, then exits
    assert stop.code == 0 and stop.out.startswith("warm kaiwa: stopped;"), stop
    wait_until(lambda: not alive(pid), 30, "the stopped warm process gone")
    gone = user("warm", "status", KAIWA_WARM="0")
    assert gone.code == 1 and "warm kaiwa: not running" in gone.out
    with contextlib.suppress(FileNotFoundError):
        assert not Path(private["files"].socket).exists()


def test_the_client_imports_no_library(kaiwa: Kaiwa) -> None:
    """What a warm call loads in the caller's process: the interpreter's own modules and kaiwa/warm's client."""
    code = (
        "import sys, runpy; sys.argv = ['chat.py', 'warm', 'status']\n"
        "from kaiwa.warm import client\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    loaded = eval(out.stdout)
    assert loaded == ["__main__", "kaiwa", "kaiwa.dirs", *(f"kaiwa.warm{m}" for m in WARM_CLIENT)]
