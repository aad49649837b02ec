"""Where the local gateway keeps its state: the state file, the lock, the master key, the logs.

Stdlib only: imported on every kaiwa start, and the state file is also written by the supervisor.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import dirs

DEFAULT_PORT = 4100  # not 4000: a later `docker compose up` (127.0.0.1:4000) must never be blocked
DEFAULT_IDLE_MINUTES = 30.0


def state_dir() -> Path:
    return Path(dirs.state_dir())  # 0700 whatever the umask (folders kaiwa creates are the owner's only)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside are 0600 and folders 0700, whatever the process umask."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """os.open of a file kaiwa may create: created 0600."""
    return os.open(path, flags | os.O_CREAT, 0o600)


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "gateway.json"

    @property
    def lock(self) -> Path:
        return self.root / "gateway.lock"

    @property
    def key(self) -> Path:
        return self.root / "gateway.key"

    @property
    def log(self) -> Path:
        return self.root / "gateway.log"

    @property
    def last_used(self) -> Path:
        return self.root / "gateway.last-used"


def paths(create: bool = True) -> Paths:
    """create=False: where the state would be, without creating the folder (a status on a read-only HOME)."""
    return Paths(state_dir() if create else Path(dirs.state_dir_path()))


@dataclass(frozen=True)
class State:
    supervisor_pid: int
    proxy_pid: int
    model_pid: int
    proxy_port: int
    model_port: int
    started_at: float
    idle_minutes: float
    log_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/v1"


def read_state(p: Paths) -> State | None:
    try:
        raw: dict[str, Any] = json.loads(p.state.read_text())
        return State(**{k: raw[k] for k in State.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w") as f:
        f.write(json.dumps(data, indent=2))
    os.replace(tmp, path)


MODEL_KEY_ENV = "KAIWA_LOCAL_MODEL_KEY"  # how the supervisor hands the model server's key to it and to LiteLLM


@dataclass(frozen=True)
class Keys:
    master: str  # the proxy's: kaiwa's turns send it; kept in gateway.key (0600) for the next kaiwa process
    model: str  # the model server's: only the proxy sends it; in no file, only in the gateway's environment


def new_keys(p: Paths) -> Keys:
    """Fresh keys for a gateway start: a key from an earlier start opens nothing on this one."""
    keys = Keys("sk-kaiwa-" + secrets.token_hex(24), "sk-kaiwa-model-" + secrets.token_hex(24))
    tmp = p.key.with_suffix(f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w") as f:
        f.write(keys.master + "\n")
    os.replace(tmp, p.key)
    return keys


def master_key(p: Paths) -> str | None:
    """The running gateway's key (never printed), or None when there is none to read."""
    try:
        return p.key.read_text().strip() or None
    except OSError:
        return None


def touch_last_used(p: Paths) -> None:
    """Tell the supervisor the gateway is in use (it stops itself after a while without this)."""
    os.close(open_private(p.last_used))
    os.utime(p.last_used)


@contextlib.contextmanager
def locked(p: Paths, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """An exclusive lock around check-then-start/stop, so two kaiwa processes start one gateway."""
    try:
        fd = os.open(p.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:  # a read-only folder: an existing lock file still locks (flock needs no write access)
        try:
            fd = os.open(p.lock, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise error from None  # what stopped kaiwa making it (a read-only file system), not "no such file"
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as dead.
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_ours(pid: int, marker: str) -> bool:
    """The pid is alive and still runs our program (pids are reused after a crash)."""
    if not pid_alive(pid):
        return False
    line = cmdline(pid)
    return marker in line if line else True  # no /proc (macOS): trust the pid


def rss_bytes(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)
