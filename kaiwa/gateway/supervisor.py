"""The local gateway's supervisor: owns the model server and the LiteLLM proxy, and stops both when idle.

Started detached by kaiwa (`python kaiwa/gateway/supervisor.py ...`, its own session, stdout/stderr into the
gateway log), so it outlives the kaiwa process that started it. Stdlib only, run as a script: it must not
import kaiwa (or its dependencies) so it stays small.

It exits, stopping both children, when:
- it gets SIGTERM/SIGINT (`chat.py gateway stop`),
- either child exits (the state is then cleaned so the next kaiwa starts a fresh gateway),
- nothing used the gateway for `--idle-minutes`: kaiwa touches the last-used file on each run, and every
  request writes to the log, so a long interactive session counts as use too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

POLL_SECONDS = 2.0


def log(message: str) -> None:
    print(f"[kaiwa-supervisor {time.strftime('%Y-%m-%d %H:%M:%S')}] {message}", flush=True)


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
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--model-port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--idle-minutes", type=float, default=30.0)
    args = parser.parse_args()
    os.umask(0o077)  # the state, logs and whatever the proxy writes: the owner's only

    state_file = args.state_dir / "gateway.json"
    log_file = args.state_dir / "gateway.log"
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
    litellm = python.parent / "litellm"
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        children["model"] = subprocess.Popen(
            [str(python), args.model_launcher, "--port", str(args.model_port), "--threads", str(args.threads)],
            stdin=subprocess.DEVNULL,
        )
        children["proxy"] = subprocess.Popen(
            [str(litellm), "--config", args.config, "--host", "127.0.0.1", "--port", str(args.proxy_port)],
            stdin=subprocess.DEVNULL,
        )
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
            idle = time.time() - last_activity([last_used, log_file])
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
