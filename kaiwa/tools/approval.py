"""Which tool calls run, which ask you first, and which are declined: mcp.json's rules (`mcp_config.py`), the
command line's `--approve NAME`, and the tools you allowed for the rest of a session (`a` at the question).

kaiwa's built-in tools (the clock, the calculator) touch nothing outside the process: they always run, and never
come here. For an MCP tool, the first rule that applies decides:

1. `deny` lists the tool                      → declined (the command line cannot override mcp.json's "no")
2. `allow` lists the tool                     → runs
3. the server says `"approve": "never"`       → declined
4. the server says `"approve": "always"`      → runs
5. `--approve` names it, or you answered `a`  → runs
6. it declares `readOnlyHint` and the server has `"trust_annotations": true` → runs
7. otherwise                                  → asks (without a terminal to ask on: declined)

Only the standard library is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError
from .mcp_config import ApprovalRule

Action = Literal["run", "ask", "decline"]
ALL = "all"


@dataclass(frozen=True)
class Verdict:
    action: Action
    why: str  # a few words for the one line that reports a decision ("denied in mcp.json", …)


def qualified(server: str, tool: str) -> str:
    """The name `--approve` takes for one server's tool."""
    return f"{server}/{tool}"


def parse_approve_names(names: Iterable[str]) -> frozenset[str]:
    """`--approve` values, checked: `all`, `tool` or `server/tool` (a server name may hold a slash: the tool is
    what follows the last one)."""
    parsed: set[str] = set()
    for raw in names:
        name = raw.strip()
        server, slash, tool = name.rpartition("/")
        if not name or (slash and (not server.strip() or not tool.strip())):
            raise UsageError(f"--approve {raw!r} is not a tool name", "give TOOL, SERVER/TOOL or all")
        parsed.add(name)
    return frozenset(parsed)


class ApprovalPolicy:
    """The rules of one process. `grant()` (the REPL's `a`) adds to them for the rest of the session: until
    `forget_grants()`, when the REPL moves to another conversation."""

    def __init__(self, rules: Mapping[str, ApprovalRule], approve: Iterable[str] = ()) -> None:
        self._rules = dict(rules)
        self._approved = parse_approve_names(approve)
        self._granted: set[tuple[str, str]] = set()

    @property
    def approves_all(self) -> bool:
        return ALL in self._approved

    def grant(self, server: str, tool: str) -> None:
        """Allow this tool of this server without asking again, for the rest of the session."""
        self._granted.add((server, tool))

    def forget_grants(self) -> None:
        """Another conversation starts (/new, /resume): what you allowed for the last one no longer holds."""
        self._granted.clear()

    def verdict(self, server: str, tool: str, read_only: bool | None = None) -> Verdict:
        """What happens to a call of `tool` on `server`; `read_only`: the tool's `readOnlyHint`, if it has one."""
        rule = self._rules.get(server, ApprovalRule())
        if tool in rule.deny:
            return Verdict("decline", "denied in mcp.json")
        if tool in rule.allow:
            return Verdict("run", "allowed in mcp.json")
        if rule.approve == "never":
            return Verdict("decline", 'its server has "approve": "never" in mcp.json')
        if rule.approve == "always":
            return Verdict("run", 'its server has "approve": "always" in mcp.json')
        if self.approves_all or tool in self._approved or qualified(server, tool) in self._approved:
            return Verdict("run", "--approve")
        if (server, tool) in self._granted:
            return Verdict("run", "allowed for this session")
        if read_only and rule.trust_annotations:
            return Verdict("run", "read-only, and its server's annotations are trusted")
        return Verdict("ask", "needs your approval")

    def unmatched(self, tools: Mapping[str, Iterable[str]]) -> list[str]:
        """`--approve` names that match no tool of the connected servers (`tools`: server → tool names): most
        likely typos, worth a warning since they allow nothing."""
        known = {name for server, names in tools.items() for tool in names for name in (tool, qualified(server, tool))}
        return sorted(name for name in self._approved if name != ALL and name not in known)
