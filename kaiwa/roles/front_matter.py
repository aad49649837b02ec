"""A role file: optional YAML front matter between `---` lines, then the instructions.

    ---
    model: bedrock-claude-3-5-sonnet
    temperature: 0.2
    tools: false
    ---
    You review code. …

Every value is checked with the rules of the matching flag (`settings.check_*`); a problem becomes one line that
names the file and the line. PyYAML is imported here only, so only reading a role file pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..settings import (
    REASONING_EFFORTS,
    VERBOSITY_LEVELS,
    check_choice,
    check_cost,
    check_max_output_tokens,
    check_temperature,
)

KEYS = ("model", "reasoning", "temperature", "max_output_tokens", "verbosity", "tools", "mcp", "max_cost_session")
FENCE = "---"


@dataclass(frozen=True)
class RoleSettings:
    """What a role sets; None (or `tools=True`, `mcp=None`) leaves the default as it is."""

    model: str | None = None
    reasoning: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    verbosity: str | None = None
    tools: bool = True
    mcp: tuple[str, ...] | None = None  # None: every configured server; (): none
    max_cost_session: float | None = None  # dollars a session under this role may spend (core/budget.py)


class Problem(Exception):
    """What is wrong, on which line of the file (1-based)."""

    def __init__(self, line: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.hint = hint


def split(text: str) -> tuple[str | None, int, str]:
    """(front matter or None, the file line it starts on, the body)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != FENCE:
        return None, 0, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in (FENCE, "..."):
            return "".join(lines[1:index]), 2, "".join(lines[index + 1 :])
    raise Problem(1, "the front matter opened by '---' has no closing '---'", "end it with a line '---'")


def _parse_yaml(text: str, first_line: int) -> list[tuple[Any, Any, int]]:
    """(key, value, file line) for each entry of the front matter's mapping."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = first_line + (mark.line if mark is not None else 0)
        raise Problem(line, f"not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise Problem(first_line, f"not valid YAML: {error}") from None
    except RecursionError:  # PyYAML reads nested values recursively: `[[[[…` thousands deep
        raise Problem(
            first_line, "the front matter nests too deeply to read", "keep it to flat 'key: value' lines"
        ) from None
    finally:
        loader.dispose()
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise Problem(first_line + node.start_mark.line, "the front matter must be 'key: value' lines")
    # Keys come from the nodes (which keep their lines); values from the constructed mapping.
    entries: list[tuple[Any, Any, int]] = []
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else key_node.tag
        line = first_line + key_node.start_mark.line
        if key in seen:
            raise Problem(line, f"{key} is given twice (first on line {seen[key]})", "keep one")
        seen[key] = line
        entries.append((key, data.get(key), line))
    return entries


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{key} must be text, not {_kind(value)}", f"e.g. {key}: {_EXAMPLES[key]}")
    return value.strip()


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


_EXAMPLES = {
    "model": "bedrock-claude-3-5-sonnet",
    "reasoning": "medium",
    "temperature": "0.2",
    "max_output_tokens": "2000",
    "verbosity": "low",
    "tools": "false",
    "mcp": "[git]",
    "max_cost_session": "0.50",
}


def _check(key: str, value: Any) -> Any:
    """The value of one key, checked like the matching flag (UsageError otherwise)."""
    if key == "model":
        return _text(key, value)
    if key in ("reasoning", "verbosity"):
        choices = REASONING_EFFORTS if key == "reasoning" else VERBOSITY_LEVELS
        if not isinstance(value, str):  # YAML reads `off` and `no` as false
            raise UsageError(f"{key} must be one of {', '.join(choices)}, not {_kind(value)}")
        return check_choice(value.strip(), choices, key)
    if key == "temperature":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"temperature must be a number, not {_kind(value)}", "give a number from 0 to 2, e.g. 0.2")
        check_temperature(float(value), key)
        return float(value)
    if key == "max_output_tokens":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"max_output_tokens must be a whole number, not {_kind(value)}", "e.g. 2000")
        check_max_output_tokens(value, key)  # YAML's 1.0e+11 is a float: the flag's rule says what is wrong
        return int(value)
    if key == "max_cost_session":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"max_cost_session must be a number of dollars, not {_kind(value)}", "e.g. 0.50")
        check_cost(float(value), key)
        return float(value)
    if key == "tools":
        if not isinstance(value, bool):
            raise UsageError(f"tools must be true or false, not {_kind(value)}", "tools: false gives the model none")
        return value
    # mcp: the names of configured servers (checked against the MCP config when the role is used)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"mcp must be a list of server names, not {_kind(value)}", "e.g. mcp: [git], or mcp: []")
    names = tuple(v.strip() for v in value)
    if len(set(names)) != len(names):
        raise UsageError("mcp names a server twice", "name each server once")
    return names


def parse(text: str) -> tuple[RoleSettings, str | None]:
    """The settings and the instructions of a role file's text (Problem for anything wrong)."""
    front, first_line, body = split(text)
    values: dict[str, Any] = {}
    if front is not None:
        for key, value, line in _parse_yaml(front, first_line):
            if key not in KEYS:
                raise Problem(line, f"unknown key {key!r}", f"known keys: {', '.join(KEYS)}")
            try:
                values[key] = _check(key, value)
            except UsageError as error:
                raise Problem(line, error.message, error.hint) from None
    instructions = body.strip("\n").rstrip()
    return RoleSettings(**values), instructions if instructions.strip() else None
