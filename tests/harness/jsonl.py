"""Every `--json` run of the suite is checked against the published schema (`chat.py schema`): the harness's
`Kaiwa` runner calls `check_json_lines` on what a main-command `--json` run printed."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator


@functools.cache
def subcommands() -> frozenset[str]:
    """Commands whose --json prints one JSON document, not a turn's JSON Lines: every command and group the CLI
    registers (so a new command is never mistaken for a turn)."""
    from kaiwa.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {g.name or "" for g in app.registered_groups}
    return frozenset(names - {""})


@functools.cache
def validator() -> Draft202012Validator:
    from kaiwa.ui.jsonl_schema import json_schema

    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def is_json_lines_run(args: Sequence[str]) -> bool:
    """`chat.py … --json` for a turn (not `sessions list --json`)."""
    return "--json" in args and not (args and args[0] in subcommands())


def check_json_lines(out: str) -> list[dict[str, Any]]:
    """Each line of `out` parsed and valid against the schema (an AssertionError naming the line otherwise)."""
    parsed = []
    for number, line in enumerate(out.splitlines(), 1):
        if not line.strip():
            continue
        value = json.loads(line)
        errors = sorted(validator().iter_errors(value), key=str)
        assert not errors, f"--json line {number} does not follow the schema: {errors[0].message}\n{line}"
        parsed.append(value)
    return parsed
