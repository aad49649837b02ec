"""Issue 21: the command line met adversarially. Each test stands for a class of failure: every argument and
setting checked by one rule and refused in one line, usage errors in one line, `sessions import` validating before
it writes, a reader that closes the pipe early met quietly. chat.py runs as a subprocess; nothing here needs the
proxy (the URL points at a closed port), so these run in seconds."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_sessions import A, B, export_doc, listed, put
from tests.conftest import Kaiwa
from tests.harness.asserts import assert_one_line_failure

BAD = "a\udcffb"  # the byte 0xff in an argument, as Python hands it over (surrogateescape)


@pytest.fixture
def bare(tmp_path: Path) -> Kaiwa:
    return Kaiwa(tmp_path, {"LITELLM_BASE_URL": "http://127.0.0.1:9/v1", "LITELLM_MODEL": "fake-a"})


# -- arguments that are not UTF-8 --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-i", "hi", "-a", f"/tmp/{BAD}.txt"], "-a is not valid UTF-8"),
        (["-i", "hi", f"--system={BAD}"], "--system is not valid UTF-8"),
        (["-i", "hi", "--system", BAD], "--system is not valid UTF-8"),
        (["-i", "hi", "-m", BAD], "-m is not valid UTF-8"),
        (["-i", "hi", "-s", BAD], "-s is not valid UTF-8"),
        (["sessions", "search", BAD], "an argument is not valid UTF-8"),
    ],
)
def test_an_argument_that_is_not_utf8_is_one_line_naming_it(bare: Kaiwa, args: list[str], named: str) -> None:
    assert_one_line_failure(bare(*args), 2, named, "byte 0xff")


# -- usage errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "said", "where"),
    [
        (["--temperature", "warm", "-i", "hi"], "invalid value for '--temperature'", "chat.py --help"),
        (["--bogus"], "no such option: --bogus", "chat.py --help"),
        (["sessions", "show"], "missing argument", "chat.py sessions show --help"),
        (["sessions", "frobnicate"], "no such command 'frobnicate'", "chat.py sessions --help"),
    ],
)
def test_a_usage_error_is_one_line_not_clicks_box(bare: Kaiwa, args: list[str], said: str, where: str) -> None:
    run = bare(*args)
    assert_one_line_failure(run, 2, said, f"see `{where}`")
    assert run.err.count("\n") == 1 and "Usage:" not in run.err


# -- settings: the same rule as the flag, one line naming the setting ----------------------------------------------
@pytest.mark.parametrize(
    ("name", "value", "flag", "said"),
    [
        ("KAIWA_TEMPERATURE", "5", "--temperature", "out of range"),
        ("KAIWA_TEMPERATURE", "nan", "--temperature", "not a finite number"),
        ("KAIWA_MAX_OUTPUT_TOKENS", "0", "--max-output-tokens", "too small"),
        ("KAIWA_MAX_OUTPUT_TOKENS", "2.5", "--max-output-tokens", "not a whole number"),
    ],
)
def test_a_setting_is_checked_as_its_flag_is(bare: Kaiwa, name: str, value: str, flag: str, said: str) -> None:
    from_env = bare("-i", "hi", **{name: value})
    assert_one_line_failure(from_env, 2, f"{name}='{value}'", said)
    from_flag = bare("-i", "hi", flag, value)
    assert from_flag.code == 2 and "Traceback" not in from_flag.err


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("KAIWA_TIMEOUT", "0", "out of range"),
        ("KAIWA_TIMEOUT", "-3", "out of range"),
        ("KAIWA_TIMEOUT", "inf", "not a finite number"),
        ("KAIWA_LOCK_TIMEOUT", "soon", "not a number"),
        ("KAIWA_MAX_RETRIES", "-1", "out of range"),
        ("KAIWA_REASONING", "extreme", "not one of low, medium, high"),
        ("LITELLM_BASE_URL", "http://[::1", "not a valid URL"),
        ("LITELLM_BASE_URL", "localhost:4000", "must start with http"),
        ("LITELLM_BASE_URL", "http://u:secretpw@h:99999/v1", "not a valid URL"),
        ("KAIWA_SYSTEM", BAD, "KAIWA_SYSTEM is not valid UTF-8"),
        ("LITELLM_API_KEY", "sk-secretpw-café", "not printable ASCII"),  # a key goes in a header; never shown
    ],
)
def test_a_bad_setting_is_one_line_with_a_hint_that_works(bare: Kaiwa, name: str, value: str, said: str) -> None:
    run = bare("-i", "hi", **{name: value})
    assert_one_line_failure(run, 2, name, said)
    assert "secretpw" not in run.err
    line = next(line for line in run.err.splitlines() if line.startswith("error:"))
    if f"e.g. {name}=" in line:  # the example the hint gives is accepted by the same rule
        example = line.split(f"e.g. {name}=", 1)[1].split()[0]
        assert bare("sessions", **{name: example}).code == 0, example


def test_an_env_file_that_is_not_utf8_is_named(bare: Kaiwa) -> None:
    (bare.home / ".env.app").write_bytes(b"LITELLM_MODEL=fake-a\nKAIWA_SYSTEM=caf\xe9\n")
    assert_one_line_failure(bare("-i", "hi"), 2, ".env.app is not valid UTF-8", "byte 0xe9 on line 2")
    assert_one_line_failure(bare("sessions"), 2, ".env.app is not valid UTF-8")


# -- sessions import validates before it writes --------------------------------------------------------------------
def _broken(change: str) -> dict[str, Any]:
    doc = export_doc(A, "terraform state lock", "why is my state locked?", "A lock.")
    match change:
        case "id":
            doc["session"]["id"] = "../../etc/passwd"
        case "item type":
            doc["items"].append({"type": "banana", "peel": True})
        case "message role":
            doc["items"][0] = {"content": "hi"}
        case "orphan output":
            doc["items"][2]["call_id"] = "c9"
        case "turns":
            doc["turns"].append(dict(doc["turns"][0]))
        case "cost":
            doc["turns"][0]["cost"] = "0.5 dollars"
        case "tokens":
            doc["turns"][0]["input_tokens"] = -4
        case "surrogate":
            doc["session"]["title"] = "\ud800"
    return doc


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("id", "is not a UUID"),
        ("item type", "not a Responses item type"),
        ("message role", "message without a role"),
        ("orphan output", "answers call 'c9'"),
        ("turns", "2 turn records for 1 turn"),
        ("cost", "not a number of dollars"),
        ("tokens", "input_tokens"),
        ("surrogate", "not valid Unicode"),
    ],
)
def test_import_refuses_a_broken_export_and_writes_nothing(bare: Kaiwa, change: str, said: str) -> None:
    put(bare, export_doc(B, "pasta for four", "how much pasta?", "About 400 g."))
    before = bare.db.read_bytes()
    path = bare.home / "broken.json"
    path.write_text(json.dumps(_broken(change)), encoding="utf-8")
    assert_one_line_failure(bare("sessions", "import", str(path)), 1, said, "nothing was imported")
    assert [s["id"] for s in listed(bare)] == [B]
    assert bare.db.read_bytes() == before  # not a byte written


# -- a reader that closes the pipe early ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "read_first"),
    [
        (["sessions"], False),
        (["sessions", "list", "--json"], False),
        (["sessions", "show", "0aaaa001"], False),
        (["sessions", "export", "0aaaa001"], True),  # a long export: `| head -1` leaves mid-way
    ],
)
def test_a_closed_pipe_ends_quietly(bare: Kaiwa, args: list[str], read_first: bool) -> None:
    put(bare, export_doc(A, "terraform state lock", "why is my state locked?", "A lock.\n" * 250_000))
    read, write = os.pipe()
    proc = subprocess.Popen(bare.command(*args), stdout=write, stderr=subprocess.PIPE, cwd=bare.home, env=bare.env)
    os.close(write)
    if read_first:
        assert os.read(read, 100)  # the first bytes, then the reader is gone (as `head -1` does)
    os.close(read)
    _, err = proc.communicate(timeout=60)
    assert err == b"", err.decode()
    # 128 + SIGPIPE, no message: what a shell reports for a Unix tool cut short. A reader that leaves mid-write
    # may not be noticed at all (CPython's buffered writer can drop the rest of a partial write): quiet, exit 0.
    assert proc.returncode == 141 or (read_first and proc.returncode == 0), proc.returncode
