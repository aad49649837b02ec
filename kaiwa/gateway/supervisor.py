"""The local gateway's supervisor: owns the model server and the LiteLLM proxy, and stops both when idle.

Started detached by kaiwa (`python kaiwa/gateway/supervisor.py ...`, its own session, stdout/stderr into the
gateway log), so it outlives the kaiwa process that started it. Stdlib only, run as a script: it must not
import kaiwa (or its dependencies) so it stays small.

It exits, stopping both children, when:
- it gets SIGTERM/SIGINT (`chat.py gateway stop`),
- either child exits (the state is then cleaned so the next kaiwa starts a fresh gateway),
- nothing used the gateway for `--idle-minutes`: kaiwa touches the last-used file on each run, and the proxy's
  key check (proxy/serve_proxy.py) on each authenticated request, so a long interactive session counts as use
  too and a stranger's requests do not.

The children's output goes through the supervisor into the gateway log, which it keeps bounded (two files of
LOG_LIMIT bytes at most): the log is the owner's, and nobody else's requests may fill the disk with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO

POLL_SECONDS = 2.0
LOG_LIMIT = 2 * 2**20  # bytes in gateway.log before it moves to gateway.log.1 (replacing the older one)


class BoundedLog:
    """gateway.log, moved aside to gateway.log.1 when it reaches `limit` bytes. It is also the supervisor's own
    stdout and stderr (a traceback of its own lands there, as before)."""

    def __init__(self, path: Path, limit: int = LOG_LIMIT) -> None:
        self.path, self.limit = path, limit
        self.lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        for target in (1, 2):
            os.dup2(fd, target)
        os.close(fd)
        self.size = os.fstat(1).st_size

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.size + len(data) > self.limit and self.size:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                self._open()
            os.write(1, data)
            self.size += len(data)

    def pump(self, stream: IO[bytes]) -> None:
        """A child's output, line by line (a line longer than the limit is cut: it would not fit anyway)."""
        for line in stream:
            self.write(line[: self.limit // 4])


LOG: BoundedLog | None = None


def log(message: str) -> None:
    line = f"[kaiwa-supervisor {time.strftime('%Y-%m-%d %H:%M:%S')}] {message}\n".encode()
    if LOG is not None:
        LOG.write(line)
    else:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def last_activity(paths: list[Path]) -> float:
    times = [0.0]
    for path in paths:
        with contextlib.suppress(OSError):
            times.append(path.stat().st_mtime)
    return max(times)


def stop(children: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for name, proc in children.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop in {grace:.0f}s; killing it")
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--python", required=True, help="the gateway env's interpreter")
    parser.add_argument("--config", required=True)
    parser.add_argument("--model-launcher", required=True)
    parser.add_argument("--proxy-launcher", required=True)
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--model-port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--idle-minutes", type=float, default=30.0)
    args = parser.parse_args()
    os.umask(0o077)  # the state, logs and whatever the proxy writes: the owner's only

    global LOG
    state_file = args.state_dir / "gateway.json"
    log_file = args.state_dir / "gateway.log"
    LOG = BoundedLog(log_file)
    last_used = args.state_dir / "gateway.last-used"
    last_used.touch()
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    python = Path(args.python)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        children["model"] = subprocess.Popen(
            [str(python), args.model_launcher, "--port", str(args.model_port), "--threads", str(args.threads)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        children["proxy"] = subprocess.Popen(
            [str(python), args.proxy_launcher, "--config", args.config, "--host", "127.0.0.1",
             "--port", str(args.proxy_port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KAIWA_GATEWAY_LAST_USED": str(last_used)},
        )  # fmt: skip
        for child in children.values():
            assert child.stdout is not None
            threading.Thread(target=LOG.pump, args=(child.stdout,), daemon=True).start()
        state = {
            "supervisor_pid": os.getpid(),
            "proxy_pid": children["proxy"].pid,
            "model_pid": children["model"].pid,
            "proxy_port": args.proxy_port,
            "model_port": args.model_port,
            "started_at": time.time(),
            "idle_minutes": args.idle_minutes,
            "log_path": str(log_file),
        }
        tmp = state_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, state_file)
        log(
            f"started model server (pid {children['model'].pid}, port {args.model_port}) and LiteLLM proxy "
            f"(pid {children['proxy'].pid}, port {args.proxy_port}); idle shutdown after {args.idle_minutes:g} min"
        )
        while not stopping:
            time.sleep(POLL_SECONDS)
            dead = [f"{name} exited with code {p.returncode}" for name, p in children.items() if p.poll() is not None]
            if dead:
                log("; ".join(dead) + "; stopping the gateway")
                break
            idle = time.time() - last_activity([last_used])
            if idle > args.idle_minutes * 60:
                log(f"unused for {idle / 60:.1f} min; stopping the gateway")
                break
        else:
            log("asked to stop")
    finally:
        stop(children)
        # Remove the state only if it is still ours (a newer gateway may have replaced it).
        with contextlib.suppress(OSError, ValueError):
            if json.loads(state_file.read_text()).get("supervisor_pid") == os.getpid():
                state_file.unlink()
        log("stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
