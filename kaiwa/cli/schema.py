"""`chat.py schema`: the JSON Schema (draft 2020-12) of the lines `--json` prints, for scripts to check against."""

from __future__ import annotations

import json
import sys

from ..pipe import write
from .common import app


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of one --json line; its version is in `x-schema-version`."""
    from ..ui.jsonl_schema import json_schema  # pydantic: only for this command and --json turns

    write(sys.stdout, json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n")
