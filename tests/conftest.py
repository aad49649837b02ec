"""Shared fixtures: one REAL LiteLLM proxy for the whole run, in front of local stand-ins of the clouds,
and `kaiwa`, which runs chat.py as a subprocess with the user's state isolated in tmp_path."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness import warm
from tests.harness.jsonl import check_json_lines, is_json_lines_run
from tests.standins.anthropic import AnthropicStandIn
from tests.standins.bedrock import ACCESS_KEY, SECRET_KEY, BedrockStandIn
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.responses import ResponsesStandIn
from tests.standins.vertex import VertexStandIn

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest-xdist's workers get COLUMNS=80 LINES=24: not the tests' terminal
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

REPO = Path(__file__).resolve().parent.parent
CHAT = REPO / "chat.py"
# Test-only aliases in front of the OpenAI-compatible stand-in (the shipped aliases stay as shipped).
FAKE_MODELS = ("fake-a", "fake-b")
FAKE_INPUT_PRICE = 2e-6  # USD per token on fake-a/fake-b
FAKE_OUTPUT_PRICE = 8e-6
FOUNDRY_KEY = "foundry-standin-key-0123456789"  # fake; the Anthropic stand-in accepts only this key


@pytest.fixture(scope="session", autouse=True)
def warm_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One runtime folder for the run: one warm kaiwa serves every test's calls (tests/harness/warm.py)."""
    import shutil

    folder = warm.make_runtime()
    yield folder
    warm.stop_all(folder)
    strays = warm.stop_strays([folder, tmp_path_factory.getbasetemp()])
    shutil.rmtree(folder, ignore_errors=True)
    if strays:  # a test's calls found no shared runtime folder: each such folder cost a warm process
        print(f"\nwarm processes outside the run's runtime folder, stopped: {strays}")


@pytest.fixture(autouse=True)
def private_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """kaiwa's data folder (the default store) is the test's own, never the user's ~/.local/share/kaiwa."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))


@pytest.fixture(scope="session")
def bedrock_cloud() -> Iterator[BedrockStandIn]:
    stand_in = BedrockStandIn(access_key=ACCESS_KEY, secret_key=SECRET_KEY, region="us-east-1").start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def foundry_cloud() -> Iterator[AnthropicStandIn]:
    stand_in = AnthropicStandIn(api_key=FOUNDRY_KEY).start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def vertex_cloud() -> Iterator[VertexStandIn]:
    stand_in = VertexStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def openai_upstream() -> Iterator[OpenAIChatStandIn]:
    stand_in = OpenAIChatStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def responses_cloud() -> Iterator[ResponsesStandIn]:
    stand_in = ResponsesStandIn().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def proxy(
    tmp_path_factory: pytest.TempPathFactory,
    openai_upstream: OpenAIChatStandIn,
    bedrock_cloud: BedrockStandIn,
    foundry_cloud: AnthropicStandIn,
    vertex_cloud: VertexStandIn,
    responses_cloud: ResponsesStandIn,
) -> Iterator[object]:
    """The shipped config with each cloud pointed at its stand-in (endpoints in the config, credentials in
    the environment, as a user sets them), plus the test-only fake-a/fake-b aliases and `fake-native`: an
    OpenAI model the proxy reaches on its own Responses API (no bridge), as a GPT-5 deployment would be."""
    from tests.harness.proxy import Proxy, build_test_config, fake_cloud_env
    from tests.harness.session_probe import install as install_session_probe

    tmp = tmp_path_factory.mktemp("proxy")
    extra = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/{alias}-upstream",
                "api_base": f"{openai_upstream.url}/v1",
                "api_key": "sk-upstream-fake",
                "use_chat_completions_api": True,
            },
            # A price, so the usage line's cost can be checked against tokens x prices.
            "model_info": {"input_cost_per_token": FAKE_INPUT_PRICE, "output_cost_per_token": FAKE_OUTPUT_PRICE},
        }
        for alias in FAKE_MODELS
    ]
    extra.append(
        {
            "model_name": "fake-native",
            "litellm_params": {
                "model": "openai/gpt-5",
                "api_base": f"{responses_cloud.url}/v1",
                "api_key": "sk-upstream-fake",
            },
        }
    )
    # Azure AI Foundry's endpoint is itself a credential variable (AZURE_FOUNDRY_API_BASE), so it comes in env.
    endpoints = {"bedrock": bedrock_cloud.url, "vertex_ai": vertex_cloud.url}
    config = build_test_config(REPO / "litellm_config.yaml", tmp / "config.yaml", endpoints, extra)
    install_session_probe(config)  # test-only callback: what the proxy's upstream-facing side saw
    env = fake_cloud_env(tmp, bedrock=bedrock_cloud, azure=foundry_cloud, vertex=vertex_cloud)
    proc = Proxy.start(config, env, tmp / "proxy.log")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A REAL PostgreSQL server for the whole run (tests/harness/postgres.py): password auth on 127.0.0.1."""
    from tests.harness.postgres import PostgresServer

    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres: Any) -> str:
    """A fresh empty database on that server, as a user's SESSION_DB_URL (password included)."""
    return str(postgres.create_database())


def _reset_per_test(session_fixture: str, name: str) -> Any:
    """Fixture `name`: the session's stand-in with its script and recorded requests cleared for each test."""

    @pytest.fixture(name=name)
    def fresh(request: pytest.FixtureRequest) -> Any:
        stand_in = request.getfixturevalue(session_fixture)
        stand_in.reset()
        return stand_in

    return fresh


upstream = _reset_per_test("openai_upstream", "upstream")  # OpenAIChatStandIn
bedrock = _reset_per_test("bedrock_cloud", "bedrock")  # BedrockStandIn
foundry = _reset_per_test("foundry_cloud", "foundry")  # AnthropicStandIn
vertex = _reset_per_test("vertex_cloud", "vertex")  # VertexStandIn
native = _reset_per_test("responses_cloud", "native")  # ResponsesStandIn behind the alias fake-native


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def session_id(self) -> str | None:
        for line in self.err.splitlines():
            if line.startswith("SESSION_ID="):
                return line.split("=", 1)[1].strip()
        return None


class Kaiwa:
    """chat.py as a user runs it, in a folder of its own with its own HOME, state and database."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.db = home / "sessions.sqlite3"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "SESSION_DB_PATH": str(self.db),
            "KAIWA_STATE_DIR": str(home / "state"),
            "KAIWA_MCP_CONFIG": "",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
            "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", ""),  # the run's one warm process
            **({"KAIWA_WARM": "0"} if warm.COLD else {}),
            **env,
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(CHAT), *args]

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 120, **env: str) -> Run:
        proc = subprocess.run(
            self.command(*args),
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            cwd=self.home,
            env={**self.env, **env},
            timeout=timeout,
        )
        if is_json_lines_run(args):
            check_json_lines(proc.stdout)
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.home,
            env={**self.env, **env},
        )

    @staticmethod
    def interrupt(proc: subprocess.Popen[str], after_stdout_bytes: int = 1, within: float = 60) -> Run:
        """Send Ctrl-C (SIGINT) once the answer has started to arrive."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + within
        while len(seen) < after_stdout_bytes and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                seen += os.read(fd, 4096)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        run = Run(proc.returncode, seen.decode(errors="replace") + (out or ""), err)
        if is_json_lines_run([str(arg) for arg in proc.args[2:]]):  # type: ignore[index,union-attr]
            check_json_lines(run.out)
        return run


@pytest.fixture(scope="session")
def warm_ready(warm_runtime: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Start the run's warm process once, before the first test that runs chat.py, so every call is served warm."""
    if not warm.COLD:
        home = tmp_path_factory.mktemp("warm-home")
        warm.ensure_warm(Kaiwa(home, {}).env, home)


@pytest.fixture
def term(kaiwa: Kaiwa) -> Iterator[Any]:
    """kaiwa's interactive mode in a real pseudo-terminal (tests/harness/term.py), closed after the test."""
    from tests.harness.term import Term

    t = Term(kaiwa)
    yield t
    t.close()


@pytest.fixture
def kaiwa(tmp_path: Path, proxy: object, warm_ready: None) -> Kaiwa:
    return Kaiwa(
        tmp_path,
        {
            "LITELLM_BASE_URL": proxy.base_url,  # type: ignore[attr-defined]
            "LITELLM_API_KEY": proxy.master_key,  # type: ignore[attr-defined]
            "LITELLM_MODEL": "fake-a",
        },
    )
