"""A call's environment and its warm process (issue 29, item 7), and what `warm status` and `warm stop` say
(issue 32, item 9): a different PATH is served by the same warm process; another value of a variable the
libraries read while loading gets a warm process of its own instead of running cold; `warm status` counts the
calls running besides itself; `warm stop` says that the next call starts one again, and how to keep it off.

Proxy-free calls (`--help`, `warm …`) in a runtime folder of this module's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaiwa.warm.client import query
from kaiwa.warm.paths import Files
from tests.conftest import Kaiwa
from tests.harness import warm
from tests.warm.conftest import alive, wait_until


def _status(files: Files) -> dict[str, Any] | None:
    answer = query(files, "status")
    return answer if isinstance(answer, dict) else None


def variants(files: Files) -> list[Files]:
    """The installation's other warm processes, by their sockets (warm-<key>-<variant>.sock)."""
    found = sorted(Path(files.folder).glob(f"warm-{files.key}-*.sock"))
    return [Files(files.folder, sock.name.removeprefix("warm-").removesuffix(".sock")) for sock in found]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kaiwa, Files]]:
    root = tmp_path_factory.mktemp("environments")
    runtime = root / "rt"
    runtime.mkdir(mode=0o700)
    home = root / "home"
    home.mkdir()
    user = Kaiwa(home, {"XDG_RUNTIME_DIR": str(runtime)})
    yield user, warm.files_for(user.env)
    warm.stop_all(runtime)


def ready(user: Kaiwa, files: Files) -> dict[str, Any]:
    """This module's first warm process, started if none runs (by a cold call)."""
    assert warm.files_for(user.env).socket == files.socket
    return warm.ensure_warm(user.env, user.home)


def test_a_different_path_is_served_by_the_same_warm_process(own: tuple[Kaiwa, Files], tmp_path: Path) -> None:
    """An activated venv, pyenv or direnv puts a folder first on PATH: such calls ran cold, always (3.4 s, not
    0.1 s). PATH was read while the libraries loaded only to find `uname`."""
    user, files = own
    info = ready(user, files)
    activated = tmp_path / "venv" / "bin"
    activated.mkdir(parents=True)
    before = info["served"]
    plain = user("--help", "--debug")
    other = user("--help", "--debug", PATH=f"{activated}:{user.env['PATH']}")
    assert plain.code == 0 and other.code == 0
    assert "running cold" not in plain.err + other.err, plain.err + other.err
    assert _status(files)["served"] == before + 2  # type: ignore[index]
    assert "PATH" not in info["import_env"], info["import_env"]


def test_another_import_time_environment_gets_its_own_warm_process(own: tuple[Kaiwa, Files]) -> None:
    """A variable the libraries read while loading (OPENAI_LOG) with another value: that call ran cold as long
    as the first warm process lived; now the first such call starts a warm process for that environment, and
    the calls after it, either way, are served warm (each by its own)."""
    user, files = own
    first = ready(user, files)
    assert "OPENAI_LOG" in first["import_env"]
    started = user("--help", "--debug", OPENAI_LOG="info")
    assert started.code == 0 and "running cold" in started.err and "OPENAI_LOG differs" in started.err, started.err
    other = wait_until(lambda: [s for f in variants(files) if (s := _status(f))], 120, "a second warm process")
    assert other[0]["pid"] != first["pid"]  # type: ignore[index]
    served = (_status(files)["served"], other[0]["served"])  # type: ignore[index]
    again = user("--help", "--debug", OPENAI_LOG="info")
    plain = user("--help", "--debug")
    assert "running cold" not in again.err + plain.err, again.err + plain.err
    now = (_status(files)["served"], _status(variants(files)[0])["served"])  # type: ignore[index]
    assert now == (served[0] + 1, served[1] + 1)  # each by its own
    log = Path(variants(files)[0].log).read_text()
    assert f"[{other[0]['pid']}] started" in log  # type: ignore[index]


def test_warm_status_counts_the_calls_running_besides_itself(own: tuple[Kaiwa, Files]) -> None:
    """`warm status`, served warm, counted itself (the child it ran in) as a running call."""
    user, files = own
    ready(user, files)
    status = user("warm", "status")
    assert status.code == 0 and "calls: " in status.out, status
    running = [line for line in status.out.splitlines() if line.startswith("calls: ")]
    assert running and all(line.endswith(", 0 running") for line in running), status.out


def test_warm_stop_says_the_next_call_starts_it_again(own: tuple[Kaiwa, Files]) -> None:
    """`warm stop` was undone by the next call without a word: it says so now, and how to keep it off."""
    user, files = own
    pids = [ready(user, files)["pid"], *(s["pid"] for f in variants(files) if (s := _status(f)))]
    stop = user("warm", "stop")
    assert stop.code == 0, stop
    assert "stopped" in stop.out and "the next call starts it again" in stop.out, stop.out
    assert "KAIWA_WARM=0" in stop.out, stop.out
    for pid in pids:  # every warm process of this installation, the other environments' too
        wait_until(lambda pid=pid: not alive(pid), 60, f"warm process {pid} gone")
    off = user("--help", "--debug", KAIWA_WARM="0")
    assert off.code == 0 and "running cold (KAIWA_WARM=0)" in off.err, off.err
    assert _status(files) is None
    user("--help")  # as it said: the next call starts one again
    wait_until(lambda: _status(files), 120, "a new warm process after the next call")
