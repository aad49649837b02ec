"""Every `--json` run of the suite is checked against the published schema (`chat.py schema`): the harness's
`Kaiwa` runner calls `check_json_lines` on what a main-command `--json` run printed."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator

# Commands whose --json prints one JSON document, not the turn's JSON Lines.
SUBCOMMANDS = frozenset({"sessions", "roles", "gateway", "warm", "schema"})


@functools.cache
def validator() -> Draft202012Validator:
    from kaiwa.ui.jsonl_schema import json_schema

    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def is_json_lines_run(args: Sequence[str]) -> bool:
    """`chat.py … --json` for a turn (not `sessions list --json`)."""
    return "--json" in args and not (args and args[0] in SUBCOMMANDS)


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
