"""One rule for tool names that clash: the first to claim a name keeps it — kaiwa's built-in tools first, then the
MCP servers in the config's order — and a later tool of that name is left out, said in one line per server.

The model calls tools by name alone, so two tools of one name cannot both be offered. Names are kept as the
servers give them (not prefixed with the server's: `--approve SERVER/TOOL`, mcp.json's allow/deny lists and the
model's history keep meaning what they say); a clash is the config's to settle, and the line says how.
Only the standard library is imported here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

BUILT_IN = ""  # the claimant of kaiwa's own tools' names


def left_out(
    reserved: Collection[str], listed: Iterable[tuple[str, Sequence[str]]]
) -> tuple[dict[str, list[str]], list[str]]:
    """`listed`: (server, its tool names) in the config's order. Returns, per server, the names it loses, and one
    line per server that loses any."""
    owner = dict.fromkeys(reserved, BUILT_IN)
    lost: dict[str, list[str]] = {}
    lines: list[str] = []
    for server, names in listed:
        taken: dict[str, list[str]] = {}  # who holds it → the names this server loses to them
        for name in names:
            if name in owner and owner[name] != server:
                taken.setdefault(owner[name], []).append(name)
                lost.setdefault(server, []).append(name)
            else:
                owner[name] = server
        for holder, names_lost in taken.items():
            lines.append(_line(server, holder, names_lost))
    return lost, lines


def _line(server: str, holder: str, names: list[str]) -> str:
    listed = ", ".join(repr(name) for name in names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    tools = "its tool" if len(names) == 1 else f"{len(names)} of its tools"
    if holder == BUILT_IN:
        return (f"MCP server {server!r}: {tools} {listed} left out — kaiwa's built-in tool has that name, and the "
                "model calls tools by name alone")  # fmt: skip
    return (f"MCP server {server!r}: {tools} {listed} left out — MCP server {holder!r}, earlier in the MCP config, "
            'has tools of the same names; set "disabled": true on one of them, or pick one with a role\'s '
            "mcp: [NAME]")  # fmt: skip
