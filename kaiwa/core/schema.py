"""`--schema`: ask for a JSON answer that follows a schema, and check it.

`--schema FILE` reads a JSON Schema; `--schema 'title: str, tags: list[str], score: float?'` is a short form
(str, int, float, bool, list[T]; a trailing `?` or `| None` allows null). The schema goes to the model as the
Responses API's `text.format` (`json_schema`, strict) through the Agents SDK's own output-schema mechanism
(`Agent(output_type=AgentOutputSchemaBase)`); the proxy turns it into each cloud's mechanism (Bedrock: a forced
tool, Anthropic: `output_format`, Gemini: `response_json_schema`). kaiwa validates the answer with `jsonschema`
after the turn is stored: an answer that does not follow the schema is one line, exit 1, and stays in the session.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import KaiwaError, UsageError

SHORT_TYPES: dict[str, str] = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
}
_FIELD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_\-]*)\s*:\s*(.+?)\s*$")
_LIST = re.compile(r"^(?:list|array)\[(.+)\]$")
_FENCE = re.compile(r"^```[A-Za-z]*\n(.*)\n```$", re.DOTALL)
SHORT_HINT = "e.g. --schema 'title: str, tags: list[str], score: float?' (types: str, int, float, bool, list[T])"


def _split_top(spec: str) -> list[str]:
    """Split on commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    return [p for p in parts if p.strip()]


def _short_type(raw: str, field: str) -> dict[str, Any]:
    text = raw.strip()
    nullable = False
    if text.endswith("?"):
        text, nullable = text[:-1].strip(), True
    elif re.search(r"\|\s*None$", text):
        text, nullable = re.sub(r"\|\s*None$", "", text).strip(), True
    listed = _LIST.match(text)
    if listed:
        schema: dict[str, Any] = {"type": "array", "items": _short_type(listed.group(1), field)}
    elif text.lower() in SHORT_TYPES:
        schema = {"type": SHORT_TYPES[text.lower()]}
    else:
        raise UsageError(f"--schema: unknown type {raw.strip()!r} for {field!r}", SHORT_HINT)
    if nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def parse_short(spec: str) -> dict[str, Any]:
    """'name: str, age: int' → a strict object schema (every field required, no others)."""
    properties: dict[str, Any] = {}
    for item in _split_top(spec):
        match = _FIELD.match(item)
        if not match:
            raise UsageError(f"--schema: cannot read {item.strip()!r} (want name: type)", SHORT_HINT)
        name, kind = match.groups()
        if name in properties:
            raise UsageError(f"--schema: {name!r} is named twice", SHORT_HINT)
        properties[name] = _short_type(kind, name)
    if not properties:
        raise UsageError("--schema: no fields", SHORT_HINT)
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _wire_name(raw: str) -> str:
    """A `text.format` name: letters, digits, _ and -, at most 64."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_")[:64]
    return name or "answer"


@dataclass(frozen=True)
class AnswerSchema:
    name: str
    schema: dict[str, Any]  # what the answer is validated against (as the user wrote it)
    wire: dict[str, Any]  # what is sent (made strict when it can be)
    strict: bool

    def output_type(self) -> Any:
        """The SDK's output-schema object for `Agent(output_type=...)`: it puts the schema into `text.format`.
        It hands the answer back unchecked, so the turn is stored whatever comes back; `check` judges it."""
        from agents import AgentOutputSchemaBase

        spec = self

        class RawJsonOutput(AgentOutputSchemaBase):
            def is_plain_text(self) -> bool:
                return False

            def name(self) -> str:
                return spec.name

            def json_schema(self) -> dict[str, Any]:
                return spec.wire

            def is_strict_json_schema(self) -> bool:
                return spec.strict

            def validate_json(self, json_str: str) -> Any:
                return json_str

        return RawJsonOutput()

    def check(self, answer: str, session_id: str) -> Any:
        """The answer as a JSON value that follows the schema, or a one-line KaiwaError (exit 1)."""
        from jsonschema import Draft202012Validator, validators
        from jsonschema.exceptions import best_match

        kept = f"the raw answer is kept in session {session_id}"
        text = answer.strip()
        fenced = _FENCE.match(text)  # models without native structured output may fence it
        try:
            value = json.loads(fenced.group(1) if fenced else text)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            raise KaiwaError(f"the answer is not JSON ({where}){_begins(text)}", kept) from None
        validator_class = validators.validator_for(self.schema, default=Draft202012Validator)
        error = best_match(validator_class(self.schema).iter_errors(value))
        if error is not None:
            where = "" if error.json_path == "$" else f" at {error.json_path}"
            raise KaiwaError(f"the answer does not follow the schema: {error.message}{where}{_begins(text)}", kept)
        return value


BEGINS_LENGTH = 80


def _begins(text: str) -> str:
    """How a failed answer starts, on the failure's one line (the whole of it is kept in the session)."""
    words = " ".join(text.split())
    if not words:
        return "; the answer is empty"
    shown = words if len(words) <= BEGINS_LENGTH else words[: BEGINS_LENGTH - 1] + "…"
    return f"; it begins: {shown}"


def load_schema(given: str) -> AnswerSchema:
    """`--schema` as given: a file holding a JSON Schema, or the short form."""
    path = Path(given).expanduser()
    looks_like_file = path.suffix.lower() == ".json" or ":" not in given
    if looks_like_file and not path.is_file():
        what = "it is a folder" if path.is_dir() else "no such file"
        raise UsageError(f"--schema {given}: {what}", "give a JSON Schema file, or fields: " + SHORT_HINT)
    if not path.is_file():
        schema = parse_short(given)
        return AnswerSchema("answer", schema, schema, True)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--schema {given}: cannot read it ({exc})", "check the file") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--schema {given}: not JSON ({exc.msg} at line {exc.lineno})", "fix the file") from None
    return from_json_schema(schema, path.stem, given)


def from_json_schema(schema: Any, default_name: str = "answer", source: str = "schema") -> AnswerSchema:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise UsageError(
            f"--schema {source}: the top level must be an object schema", 'wrap it: {"type": "object", ...}'
        )
    try:
        validators.validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        raise UsageError(f"--schema {source}: not a valid JSON Schema: {exc.message}", "fix the file") from None
    name = _wire_name(str(schema.get("title") or default_name))
    from agents.exceptions import UserError
    from agents.strict_schema import ensure_strict_json_schema

    try:  # strict mode needs every property required and no others: ask for that, validate the original
        return AnswerSchema(name, schema, ensure_strict_json_schema(copy.deepcopy(schema)), True)
    except (UserError, TypeError):
        return AnswerSchema(name, schema, schema, False)
