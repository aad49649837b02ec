"""Never stale means the whole import closure (issue 29, item 6): a library the warm process imported, changed on
disk (edited in place, or reinstalled as `uv pip install` and `uv sync` do), is not served by the old process.

The library is a copy of one kaiwa imports (uuid6), put first on the path with PYTHONPATH, so the test changes
no file of the environment other tests and their warm process use."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import uuid6

from kaiwa.warm.client import query
from kaiwa.warm.paths import Files
from tests.conftest import Kaiwa
from tests.harness import warm
from tests.warm.conftest import alive, wait_until


def _status(files: Files) -> dict[str, Any] | None:
    answer = query(files, "status")
    return answer if isinstance(answer, dict) else None


def _edit_in_place(package: Path) -> None:
    with (package / "__init__.py").open("a") as f:  # same file, same inode: only its contents change
        f.write("\n# patched\n")


def _reinstall(package: Path) -> None:
    fresh = package.with_name("fresh")
    shutil.copytree(package, fresh)
    shutil.rmtree(package)  # as an installer does: the old files removed, the new ones put in their place
    fresh.rename(package)


@pytest.mark.parametrize("change", [_edit_in_place, _reinstall], ids=["edited in place", "reinstalled"])
def test_a_changed_library_is_not_served_by_the_old_warm_process(tmp_path: Path, change: Any) -> None:
    library = tmp_path / "lib"
    shutil.copytree(Path(uuid6.__file__).parent, library / "uuid6")
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    home = tmp_path / "home"
    home.mkdir()
    user = Kaiwa(home, {"XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(library)})
    files = warm.files_for(user.env)
    try:
        old = warm.ensure_warm(user.env, home)  # a cold call starts it (it imports the copy); its log if not
        assert user("--help").code == 0 and _status(files)["served"] == 1  # type: ignore[index]

        change(library / "uuid6")
        after = user("--help", "--debug")  # the old one retired at the change, or refuses this call
        assert after.code == 0 and "running cold" in after.err, after.err
        wait_until(lambda: not alive(old["pid"]), 60, "the old warm process gone")  # type: ignore[index]
        log = Path(files.log).read_text()
        assert f"[{old['pid']}] exits (its libraries changed on disk: {library / 'uuid6'}" in log, log
        assert "served 1 calls" in log, log  # the call before the change only
        new = wait_until(lambda: (s := _status(files)) and s["pid"] != old["pid"] and s, 120, "a new warm process")
        assert user("--help").code == 0 and _status(files)["served"] == 1, new  # type: ignore[index]
    finally:
        warm.stop_all(runtime)
