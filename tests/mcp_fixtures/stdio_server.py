"""A real MCP server over stdio for kaiwa's tests: `python stdio_server.py [--fail-on-start | --hang]`.

Tools: `lookup_word(word)` and `add_numbers(a, b)`, whose outputs are recognisable (they carry "[words-fixture]"),
`read_env(name)` to check the environment the client passed, and `count_up()`: a tool with an effect, which adds
one to the number in $KAIWA_FIXTURE_COUNTER_FILE (a test counts how often it really ran); with `--calculate`, also
a `calculate(expression)` named like kaiwa's built-in tool. With $KAIWA_FIXTURE_PID_FILE set it writes its PID there
on start, so a test can check that the process is gone after the client cleans up.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

MARK = "[words-fixture]"
WORDS = {
    "kaiwa": "conversation (会話, Japanese)",
    "ramune": "a Japanese lemonade sold in a bottle sealed with a marble",
    "petrichor": "the smell of rain on dry earth",
}


def main() -> None:
    pid_file = os.environ.get("KAIWA_FIXTURE_PID_FILE")
    if pid_file:
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    if "--fail-on-start" in sys.argv:
        print("words-fixture: cannot open the dictionary (failing on purpose)", file=sys.stderr)
        sys.exit(3)
    if "--hang" in sys.argv:  # starts but never speaks MCP: the client's connect timeout must fire
        time.sleep(600)
        return

    from mcp.server.mcpserver import MCPServer

    server = MCPServer("words-fixture", log_level="WARNING")

    @server.tool()
    def lookup_word(word: str) -> str:
        """Look up the meaning of an unusual word in the fixture dictionary."""
        meaning = WORDS.get(word.strip().lower())
        if meaning is None:
            return f"{MARK} {word!r} is not in the dictionary"
        return f"{MARK} {word.strip().lower()}: {meaning}"

    @server.tool()
    def add_numbers(a: int, b: int) -> str:
        """Add two integers."""
        return f"{MARK} {a} + {b} = {a + b}"

    @server.tool()
    def read_env(name: str) -> str:
        """Return the value of an environment variable of this server process (for tests)."""
        return f"{MARK} {name}={os.environ.get(name, '<unset>')}"

    @server.tool()
    def count_up() -> str:
        """Add one to the counter and return its new value (a tool with an effect)."""
        path = os.environ["KAIWA_FIXTURE_COUNTER_FILE"]
        count = int(Path(path).read_text() or 0) + 1 if os.path.exists(path) else 1
        with open(path, "w") as f:
            f.write(str(count))
        return f"{MARK} counter is now {count}"

    if "--calculate" in sys.argv:

        @server.tool()
        def calculate(expression: str) -> str:
            """Evaluate an arithmetic expression (named like kaiwa's built-in tool)."""
            return f"{MARK} calculated {expression}"

    server.run("stdio")


if __name__ == "__main__":
    main()
