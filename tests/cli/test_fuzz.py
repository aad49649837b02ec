"""Generative: odd bytes and values in every flag and every setting (issue 21). Whatever comes in, chat.py answers
with exactly one `error:` line, a non-zero exit code and no traceback, and never an "unexpected" (a bug's) line.

chat.py runs as a subprocess (a new process per example, so the example counts are modest; raise them with
KAIWA_FUZZ_EXAMPLES). The proxy URL points at a closed port on 127.0.0.1, so a value that is valid still ends
in one line ("cannot reach"). Values that name places are kept local: paths relative to the test's folder
(never /dev/zero or a file outside it), URLs without a scheme or on 127.0.0.1, so no example reads, writes or
reaches anything outside the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CHAT
from tests.gateway.test_offline import free_port

EXAMPLES = int(os.environ.get("KAIWA_FUZZ_EXAMPLES", "12"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text as it reaches a process: any bytes but NUL (which no argv or environment can hold), decoded as Python
# decodes them (undecodable bytes become surrogates), or odd Unicode: controls, right-to-left marks, emoji.
raw_bytes = st.binary(max_size=40).map(lambda b: os.fsdecode(b.replace(b"\0", b"")))
odd_text = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=40)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["nan", "-0", "1e400", "0x10", "1_000", " 2 ", "", "٣", "½"]),
)
value = st.one_of(raw_bytes, odd_text, numbers)
local_path = value.filter(lambda v: not v.startswith(("/", "~", "-")) and ".." not in v and "\n" not in v)
local_url = st.one_of(
    value.filter(lambda v: "://" not in v and not v.startswith("//")),
    value.map(lambda v: f"http://127.0.0.1:9/{v}"),
    st.sampled_from(["http://[::1", "http://127.0.0.1:99999/v1", "ftp://127.0.0.1/", "http://:80/v1", "http://"]),
)
local_db_url = st.one_of(
    value.filter(lambda v: "://" not in v), value.map(lambda v: f"postgresql://u:{v}@127.0.0.1:9/db")
)

FLAGS = {
    "--model": value,
    "--reasoning": value,
    "--temperature": numbers,
    "--max-output-tokens": numbers,
    "--system": value,
    "--session-id": value,
    "--attach": local_path,
    "--mcp-config": local_path,
    "--schema": local_path,
    "--input": value,
}
SETTINGS = {
    "LITELLM_BASE_URL": local_url,
    "LITELLM_API_KEY": value,
    "LITELLM_MODEL": value,
    "SESSION_DB_PATH": local_path,
    "SESSION_DB_URL": local_db_url,
    "KAIWA_REASONING": value,
    "KAIWA_TIMEOUT": numbers,
    "KAIWA_MAX_RETRIES": numbers,
    "KAIWA_MCP_CONFIG": local_path,
    "KAIWA_SYSTEM": value,
    "KAIWA_TEMPERATURE": numbers,
    "KAIWA_MAX_OUTPUT_TOKENS": numbers,
    "KAIWA_LOCK_TIMEOUT": numbers,
}


def run(home: Path, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "KAIWA_STATE_DIR": str(home / "state"),
        "SESSION_DB_PATH": "sessions.sqlite3",
        "LITELLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # closed: a valid value still fails
        "LITELLM_MODEL": "fake-a",
        "KAIWA_MAX_RETRIES": "0",
        "KAIWA_MCP_CONFIG": "",
        "NO_COLOR": "1",
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", ""),  # the run's one warm process
    }
    env_bytes = {k.encode(): os.fsencode(v) for k, v in {**base, **env}.items()}
    proc = subprocess.run(
        [sys.executable, str(CHAT), *args],
        cwd=home,
        env=env_bytes,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def check_one_line(code: int, err: str, what: str, may_succeed: bool = False) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    if may_succeed and code == 0:  # e.g. a search that finds nothing: no error at all
        assert errors == [] and "Traceback" not in err, (what, err)
        return
    assert code != 0, (what, code, err)
    assert len(errors) == 1, (what, err)
    assert "Traceback" not in err and "unexpected" not in errors[0], (what, err)


@FUZZ
@given(data=st.data())
def test_any_flag_value_is_one_line(tmp_path: Path, data: st.DataObject) -> None:
    flag = data.draw(st.sampled_from(sorted(FLAGS)), label="flag")
    given_value = data.draw(FLAGS[flag], label="value")
    args = ["--input", given_value] if flag == "--input" else ["--input", "hi", f"{flag}={given_value}"]
    code, err = run(tmp_path, args, {})
    check_one_line(code, err, f"{flag}={given_value!r}")


@FUZZ
@given(data=st.data())
def test_any_setting_is_one_line(tmp_path: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SETTINGS)), label="setting")
    given_value = data.draw(SETTINGS[name], label="value")
    in_file = data.draw(st.booleans(), label="in .env.app")
    if in_file:  # the same value from the settings file (quoted as dotenv reads it)
        escaped = os.fsencode(given_value).replace(b"\\", b"\\\\").replace(b"'", b"\\'")
        (tmp_path / ".env.app").write_bytes(name.encode() + b"='" + escaped + b"'\n")
    code, err = run(tmp_path, ["--input", "hi"], {} if in_file else {name: given_value})
    (tmp_path / ".env.app").unlink(missing_ok=True)
    check_one_line(code, err, f"{name}={given_value!r}")


@FUZZ
@given(content=st.binary(max_size=200))
def test_any_env_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / ".env.app").write_bytes(content)
    code, err = run(tmp_path, ["--input", "hi"], {})
    check_one_line(code, err, f".env.app = {content!r}")


@pytest.mark.parametrize("command", [["sessions", "show"], ["sessions", "search"], ["sessions", "export"]])
@FUZZ
@given(word=value)
def test_any_session_argument_is_one_line(tmp_path: Path, command: list[str], word: str) -> None:
    code, err = run(tmp_path, [*command, "--", word] if word.startswith("-") else [*command, word], {})
    check_one_line(code, err, f"{command} {word!r}", may_succeed=command[1] == "search")
