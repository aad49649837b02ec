"""Tool-call arguments checked against the tool's own strict JSON schema, before the tool runs.

The SDK sends a strict schema (every property required, no others) but its Pydantic model ignores unknown
names and fills in defaults, so `current_time(timezone=…)` would silently answer for the local zone. A model
that misnames an argument gets an error it can correct instead. Only the standard library and jsonschema here.
"""

from __future__ import annotations

import json
from typing import Any


def _type_names(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type_names(option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def signature(name: str, schema: dict[str, Any]) -> str:
    """`current_time(zone: string or null)`: what the tool takes, for the model to retry with."""
    props: dict[str, Any] = schema.get("properties") or {}
    return f"{name}(" + ", ".join(f"{key}: {_type_names(value)}" for key, value in props.items()) + ")"


def declared_order(schema: dict[str, Any]) -> tuple[str, ...]:
    """The arguments a schema declares, required ones first, each group in the schema's own order."""
    props: dict[str, Any] = schema.get("properties") or {}
    required = [key for key in props if key in set(schema.get("required") or [])]
    return (*required, *(key for key in props if key not in required))


def argument_problem(name: str, schema: dict[str, Any], raw: str) -> str | None:
    """None when `raw` (the call's JSON arguments) fits `schema`; else one line the model can act on."""
    from jsonschema import Draft202012Validator

    expected = f"call it as {signature(name, schema)}"
    try:
        args = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as error:
        return f"error: the arguments are not valid JSON ({error.msg}); {expected}"
    if not isinstance(args, dict):
        return f"error: the arguments must be a JSON object; {expected}"
    props: dict[str, Any] = schema.get("properties") or {}
    # Undeclared names are refused unless the schema itself takes others (JSON Schema allows them by default,
    # and a server ignores them: shown in a question, they would only hide what runs).
    takes_others = schema.get("additionalProperties", False) not in (False, None) or "patternProperties" in schema
    unknown = [] if takes_others else [key for key in args if key not in props]
    if unknown:
        listed = ", ".join(repr(key) for key in unknown)
        return f"error: {name} has no argument {listed}; {expected}"
    missing = [key for key in schema.get("required", []) if key not in args]
    if missing:
        nullable = [key for key in missing if "null" in _type_names(props.get(key, {}))]
        note = f" ({', '.join(nullable)}: null for the default)" if nullable else ""
        listed = ", ".join(repr(key) for key in missing)
        return f"error: missing argument {listed}{note}; {expected}"
    wrong = next(iter(Draft202012Validator(schema).iter_errors(args)), None)
    if wrong is not None:
        where = ".".join(str(part) for part in wrong.absolute_path) or "arguments"
        sub = schema if not wrong.absolute_path else props.get(str(wrong.absolute_path[0]), {})
        return f"error: {where} must be {_type_names(sub)}, not {json.dumps(wrong.instance)[:60]}; {expected}"
    return None
