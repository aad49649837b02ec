"""How a failure must look: one line, `error: …`, no traceback."""

from __future__ import annotations

from typing import Any


def assert_one_line_failure(run, code: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert run.code == code, (run.code, run.err)
    assert "Traceback" not in run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.err
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert run.out == ""


def one_line(run: Any) -> str:
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err
    return lines[0]
