"""The tests' way to run the REAL LiteLLM proxy (from the locked gateway env) in front of the cloud stand-ins.

- `build_test_config` takes the shipped `litellm_config.yaml` and changes only where each provider's requests
  go (loopback stand-ins), plus test-only aliases; model ids, params and settings stay as shipped.
- `Proxy.start` runs `uv run --frozen --project gateway litellm ...` on 127.0.0.1 in its own process group,
  with a scrubbed environment: no cloud credential of the developer's shell reaches it, only what the test
  passes (`fake_cloud_env`), and the SDKs' metadata-server probes (AWS IMDS, GCE) are switched off.

Stdlib only (urllib), so it imports neither openai nor litellm. YAML is read by the gateway env's Python,
which has PyYAML (the main env does not); the test config is written as JSON, which is valid YAML.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from tests.harness.ports import free_port

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "proxy"
SHIPPED_CONFIG = REPO / "litellm_config.yaml"
DEFAULT_MASTER_KEY = "sk-test-0123456789abcdef"
READY_TIMEOUT = 120.0  # 10-30 s on an idle 2-core box, up to ~65 s measured while other jobs compile

# Provider kind -> the litellm_params field that says where its requests go.
ENDPOINT_FIELDS = {
    "bedrock": "aws_bedrock_runtime_endpoint",
    "azure_ai": "api_base",
    "vertex_ai": "api_base",
    "local": "api_base",
}
LOCAL_URL = "http://127.0.0.1:8089/v1"  # the shipped `local` alias's server

# Never inherited from the developer's shell: real credentials must not reach a test proxy.
_SCRUB_PREFIXES = (
    "AWS_", "AZURE_", "GOOGLE_", "GCLOUD_", "CLOUDSDK_", "VERTEX", "GEMINI_", "OPENAI_", "ANTHROPIC_",
    "LITELLM_", "LOCAL_MODEL_", "DATABASE_URL", "REDIS_",
)  # fmt: skip
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
_DROP = {"VIRTUAL_ENV"}  # the main env's: it would only make `uv run --project gateway` warn
# Always set: loopback only, no metadata-server probes (169.254.169.254), no price-list download.
_HYGIENE = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_GCE_CHECK": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "NO_PROXY": "127.0.0.1,localhost",
    "PYTHONUNBUFFERED": "1",
}
_ENV_REF = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")
# Direct HTTP to loopback, whatever proxy settings the environment has.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def load_yaml(path: Path) -> Any:
    """Parse a YAML file with the gateway env's PyYAML (the main env has none)."""
    code = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
    out = subprocess.run(
        [*_uv(), "run", "--frozen", "--no-sync", "--project", str(GATEWAY), "python", "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def env_refs(config: Path) -> set[str]:
    """Every NAME the config reads as `os.environ/NAME`."""
    return set(_ENV_REF.findall(config.read_text()))


def provider_kind(entry: dict[str, Any]) -> str | None:
    """bedrock / azure_ai / vertex_ai / local (the OpenAI-compatible offline model), from a model_list entry."""
    params = entry.get("litellm_params") or {}
    prefix = str(params.get("model", "")).split("/", 1)[0]
    if prefix in ("bedrock", "azure_ai", "vertex_ai"):
        return prefix
    if entry.get("model_name") == "local" or params.get("api_base") == LOCAL_URL:
        return "local"
    return None


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"test endpoints must be loopback, got {url!r}")


def build_test_config(shipped: Path, out: Path, endpoints: dict[str, str], extra_models: list[dict[str, Any]]) -> Path:
    """Write `out`: the shipped config with only the endpoint fields of the kinds in `endpoints` replaced
    (keys: "bedrock", "azure_ai", "vertex_ai", "local"; values: loopback base URLs), plus `extra_models`.

    Credentials are not touched: they stay `os.environ/...` and come from the env given to `Proxy.start`.
    """
    unknown = set(endpoints) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValueError(f"unknown provider kinds {sorted(unknown)}; use {sorted(ENDPOINT_FIELDS)}")
    for url in endpoints.values():
        _require_loopback(url)
    config = load_yaml(shipped)
    models = config.setdefault("model_list", [])
    for entry in models:
        kind = provider_kind(entry)
        if kind in endpoints:
            entry["litellm_params"][ENDPOINT_FIELDS[kind]] = endpoints[kind].rstrip("/")
    models.extend(json.loads(json.dumps(extra_models)))  # a copy: the caller's list stays as given
    return write_config(out, config)


def write_config(out: Path, config: dict[str, Any]) -> Path:
    """Write a proxy config (for `Proxy.start`) as JSON, which is valid YAML."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(config, indent=2) + "\n")
    return out


def fake_cloud_env(
    tmp: Path,
    *,
    bedrock: Any = None,
    azure: Any = None,
    vertex: Any = None,
    vertex_project: str = "kaiwa-standin",
    vertex_location: str = "us-central1",
) -> dict[str, str]:
    """Credentials for the stand-ins given, in the variable names the shipped config reads.

    bedrock: a `BedrockStandIn` (its SigV4 keys); azure: an `AnthropicStandIn` (its URL is the Foundry
    resource, its `api_key` if set); vertex: a `VertexStandIn` (writes a service-account JSON under `tmp`
    whose `token_uri` is the stand-in). Point the requests themselves with `build_test_config(endpoints=...)`.
    """
    env: dict[str, str] = {}
    if bedrock is not None:
        from tests.standins import bedrock as bedrock_mod

        env["AWS_ACCESS_KEY_ID"] = getattr(bedrock, "access_key", bedrock_mod.ACCESS_KEY)
        env["AWS_SECRET_ACCESS_KEY"] = getattr(bedrock, "_secret_key", bedrock_mod.SECRET_KEY)
        env["AWS_REGION_NAME"] = getattr(bedrock, "region", None) or "us-east-1"
    if azure is not None:
        _require_loopback(azure.url)
        env["AZURE_FOUNDRY_API_BASE"] = azure.url
        env["AZURE_FOUNDRY_API_KEY"] = getattr(azure, "api_key", None) or "foundry-test-key-0123456789"
    if vertex is not None:
        # Hook: the Vertex stand-in writes the credentials file and trusts the key it generated.
        path = vertex.write_service_account(tmp / "vertex-service-account.json", project_id=vertex_project)
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
        env["VERTEX_PROJECT_ID"] = vertex_project
        env["VERTEX_LOCATION"] = vertex_location
    return env


def _scrubbed_environ(config: Path) -> dict[str, str]:
    drop = env_refs(config) | _DROP
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.upper().startswith(_SCRUB_PREFIXES) and k.lower() not in _PROXY_VARS
    }


class Proxy:
    """A running LiteLLM proxy process. Build it with `Proxy.start(...)`; always `stop()` it (or use `with`)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        master_key: str,
        log_path: Path,
        secrets: list[str] | None = None,
    ) -> None:
        self.process = process
        self.port = port
        self.master_key = master_key
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"
        self.started_in: float | None = None  # seconds from spawn to ready
        self._secrets = [master_key, *(secrets or [])]  # masked in log_tail()

    @classmethod
    def start(
        cls,
        config: Path,
        env: dict[str, str],
        log_path: Path,
        port: int | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> Proxy:
        """Spawn the proxy with `config`, the scrubbed environment plus `env`, and wait until it is ready."""
        port = port or free_port()
        full_env = {**_scrubbed_environ(config), **_HYGIENE, **env}
        full_env.setdefault("LITELLM_MASTER_KEY", DEFAULT_MASTER_KEY)
        command = [*_uv(), "run", "--frozen", "--project", str(GATEWAY), "litellm"]
        command += ["--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends uv, litellm and any workers
            )
        secrets = [v for k, v in env.items() if len(v) >= 8 and _looks_secret(k)]
        proxy = cls(process, port, full_env["LITELLM_MASTER_KEY"], log_path, secrets)
        try:
            proxy._wait_ready(ready_timeout)
        except BaseException:
            proxy.stop()
            raise
        proxy.started_in = time.monotonic() - began
        return proxy

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"LiteLLM proxy exited with code {self.process.returncode} before it was ready; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError), _OPENER.open(f"{self.url}/health/readiness", timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.25)
        raise TimeoutError(
            f"LiteLLM proxy not ready after {timeout:.0f}s (is the gateway env synced? "
            f"`uv sync --frozen --project gateway`); log {self.log_path}:\n{self.log_tail()}"
        )

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The end of the log with every secret this harness knows of masked."""
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        for secret in self._secrets:
            tail = tail.replace(secret, "***")
        return tail

    def get(self, path: str, key: str | None = None, timeout: float = 10) -> tuple[int, Any]:
        """GET `path` (e.g. "/v1/models") with the master key (or `key`); returns (status, parsed JSON or text)."""
        req = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"Bearer {key or self.master_key}"})
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def rss_kb(self) -> int:
        """Resident memory of the process group (uv and the proxy), from /proc; 0 where unavailable."""
        total = 0
        with contextlib.suppress(OSError):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                    if os.getpgid(int(entry.name)) == self.process.pid:
                        for line in (entry / "status").read_text().splitlines():
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1])
        return total

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        # The leader may be gone while children linger: the group is killed either way.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in ("KEY", "SECRET", "TOKEN", "PASSWORD"))
