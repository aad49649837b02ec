"""MCP config parsing, and real MCP servers (stdio child process, streamable HTTP and SSE on 127.0.0.1) connected
through kaiwa.tools.mcp.connected_mcp_servers and used through the Agents SDK."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaiwa.errors import UsageError
from kaiwa.tools.mcp import connected_mcp_servers
from kaiwa.tools.mcp_config import McpServerSpec, default_mcp_config_path, load_mcp_config, parse_mcp_config
from tests.harness.mcp import write_config
from tests.mcp_fixtures import http_server_config, stdio_server_config
from tests.mcp_fixtures.http_server import running_http_server

TOKEN = "tok-9f8e7d6c5b4a-secret"


# --- config --------------------------------------------------------------------------------------------------------


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_mcp_config_path() == tmp_path / "kaiwa" / "mcp.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_mcp_config_path() == Path.home() / ".config" / "kaiwa" / "mcp.json"


def test_good_config_with_env_expansion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORDS_KEY", "wk-123456")
    monkeypatch.setenv("REMOTE_TOKEN", TOKEN)
    monkeypatch.delenv("KAIWA_UNSET_VAR", raising=False)
    path = write_config(
        tmp_path,
        {
            "words": {
                "command": "python",
                "args": ["server.py", "--key=${WORDS_KEY}"],
                "env": {"API_KEY": "${WORDS_KEY}", "MODE": "${KAIWA_UNSET_VAR:-plain}", "LITERAL": "x$y"},
            },
            "remote": {
                "type": "http",
                "url": "http://127.0.0.1:9/mcp",
                "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}"},
            },
            "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
            "off": {"command": "whatever", "disabled": True},
        },
    )
    words, remote, legacy = load_mcp_config(path)
    assert (words.name, words.transport, words.command) == ("words", "stdio", "python")
    assert words.args == ("server.py", "--key=wk-123456")
    assert dict(words.env) == {"API_KEY": "wk-123456", "MODE": "plain", "LITERAL": "x$y"}
    assert (remote.transport, remote.url, dict(remote.headers)) == (
        "http",
        "http://127.0.0.1:9/mcp",
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert legacy.transport == "sse"
    # Secrets stay out of repr() (which ends up in logs and tracebacks) and are masked by redact().
    assert TOKEN not in repr(remote) and "wk-123456" not in repr(words)
    assert remote.redact(f"failed with Bearer {TOKEN}") == "failed with ***"
    assert remote.redact(f"token {TOKEN} again") == "token *** again"


def test_vscode_servers_key_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "vscode.json"
    path.write_text('{"servers": {"a": {"url": "https://example.test/mcp"}}}')
    assert [s.name for s in load_mcp_config(path)] == ["a"]
    assert load_mcp_config(tmp_path / "absent.json", missing_ok=True) == []
    with pytest.raises(UsageError, match="does not exist"):
        load_mcp_config(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"mcpServers": {', "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"servers_typo": {}}', "no 'mcpServers'"),
        ('{"mcpServers": {}, "servers": {"a": {"command": "x"}}}', "both 'mcpServers' and 'servers'"),
        ('{"mcp": {"servers": {"a": {"command": "x"}}}}', "under 'mcp.servers'"),
        ('{"mcpServers": []}', "'mcpServers' must be an object"),
        ('{"mcpServers": {"a": "python x.py"}}', "server 'a' must be an object"),
        ('{"mcpServers": {"a": {}}}', "exactly one of 'command'"),
        ('{"mcpServers": {"a": {"command": "x", "url": "http://h"}}}', "exactly one of 'command'"),
        ('{"mcpServers": {"a": {"command": ""}}}', "command is empty"),
        ('{"mcpServers": {"a": {"command": 5}}}', "command must be a string"),
        ('{"mcpServers": {"a": {"command": "x", "args": "--flag"}}}', "args must be a list"),
        ('{"mcpServers": {"a": {"command": "x", "args": [1]}}}', "args[0] must be a string"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"N": 1}}}}', "env.N must be a string"),
        ('{"mcpServers": {"a": {"url": "ftp://h/x"}}}', "must start with http"),
        ('{"mcpServers": {"a": {"url": "http://h", "headers": ["x"]}}}', "headers must be an object"),
        ('{"mcpServers": {"a": {"type": "stdio", "url": "http://h"}}}', "type is 'stdio' but it has 'url'"),
        ('{"mcpServers": {"a": {"type": "websocket", "url": "http://h"}}}', "not one of stdio"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"K": "${KAIWA_SURELY_UNSET}"}}}}', "KAIWA_SURELY_UNSET"),
        ('{"mcpServers": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deeply"),  # was a RecursionError
    ],
)
def test_malformed_config_is_one_clear_line(tmp_path: Path, text: str, problem: str) -> None:
    os.environ.pop("KAIWA_SURELY_UNSET", None)
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_mcp_config(path)
    line = caught.value.line()
    assert problem in line and str(path) in line and "\n" not in line
    assert caught.value.exit_code == 2


def test_a_missing_variable_error_names_the_variable_not_other_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRESENT_SECRET", TOKEN)
    monkeypatch.delenv("ABSENT_VAR", raising=False)
    path = write_config(
        tmp_path, {"r": {"url": "http://h/mcp", "headers": {"A": "${PRESENT_SECRET}", "B": "${ABSENT_VAR}"}}}
    )
    with pytest.raises(UsageError) as caught:
        load_mcp_config(path)
    assert "headers.B uses ${ABSENT_VAR}" in caught.value.line() and TOKEN not in caught.value.line()


# --- real servers -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    with running_http_server(token=TOKEN) as url:
        yield url


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def specs(servers: dict[str, Any]) -> list[McpServerSpec]:
    return parse_mcp_config({"mcpServers": servers})


def test_stdio_and_http_servers_connect_list_and_call(
    http_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("FIXTURE_TOKEN", TOKEN)
    monkeypatch.setenv("FIXTURE_GREETING", "hello-from-config")
    config = {
        "words": stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file), "GREETING": "${FIXTURE_GREETING}"}),
        "web": http_server_config(http_url, {"Authorization": "Bearer ${FIXTURE_TOKEN}"}),
    }
    warnings: list[str] = []

    async def run() -> dict[str, Any]:
        async with connected_mcp_servers(specs(config), warnings.append) as servers:
            by_name = {s.name: s for s in servers}
            words, web = by_name["words"], by_name["web"]
            listed = {
                "words": sorted(t.name for t in await words.list_tools()),
                "web": sorted(t.name for t in await web.list_tools()),
            }
            looked_up = await words.call_tool("lookup_word", {"word": "kaiwa"})
            env = await words.call_tool("read_env", {"name": "GREETING"})
            reversed_ = await web.call_tool("reverse_text", {"text": "kaiwa"})
            pid = int(pid_file.read_text())
            alive_inside = pid_alive(pid)
        # Still inside the event loop: the cleanup must be finished, not left to asyncio.run's teardown.
        return {
            "listed": listed,
            "texts": [r.content[0].text for r in (looked_up, env, reversed_)],  # type: ignore[union-attr]
            "alive_inside": alive_inside,
            "gone_after": not pid_alive(pid),
        }

    out = asyncio.run(run())
    assert warnings == []
    assert out["listed"] == {
        "words": ["add_numbers", "count_up", "lookup_word", "read_env"],
        "web": ["count_letters", "reverse_text"],
    }
    assert out["texts"] == [
        "[words-fixture] kaiwa: conversation (会話, Japanese)",
        "[words-fixture] GREETING=hello-from-config",
        "[http-fixture] awiak",
    ]
    assert out["alive_inside"] and out["gone_after"], "the stdio server must be stopped when the block ends"


def test_sdk_agent_sees_builtin_and_mcp_tools_and_invokes_one(http_url: str) -> None:
    """The path the Runner takes: Agent.get_all_tools() → FunctionTool.on_invoke_tool()."""
    from agents import Agent, RunContextWrapper
    from agents.tool_context import ToolContext

    from kaiwa.tools import builtin_tools, describe_result

    config = {
        "words": stdio_server_config(),
        "web": http_server_config(http_url, {"Authorization": f"Bearer {TOKEN}"}),
    }

    async def run() -> tuple[list[str], str]:
        async with connected_mcp_servers(specs(config), pytest.fail) as servers:
            agent = Agent(name="t", tools=builtin_tools(), mcp_servers=servers)
            tools = await agent.get_all_tools(RunContextWrapper(context=None))
            tool = next(t for t in tools if t.name == "add_numbers")
            args = '{"a": 20, "b": 22}'
            ctx = ToolContext(context=None, tool_name="add_numbers", tool_call_id="c1", tool_arguments=args)
            output = await tool.on_invoke_tool(ctx, args)  # type: ignore[union-attr]
            return sorted(t.name for t in tools), describe_result(output)

    names, shown = asyncio.run(run())
    assert names == [
        "add_numbers",
        "calculate",
        "count_letters",
        "count_up",
        "current_time",
        "lookup_word",
        "read_env",
        "reverse_text",
    ]
    assert shown == "[words-fixture] 20 + 22 = 42"


def test_failing_servers_are_one_warning_each_and_the_others_still_connect(
    http_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    config = {
        "words": stdio_server_config(),
        "missing": {"command": "kaiwa-no-such-command-xyz", "env": {"API_KEY": "sk-should-not-leak-1234"}},
        "crashes": stdio_server_config("--fail-on-start", env={"API_KEY": "sk-should-not-leak-1234"}),
        "badtoken": http_server_config(http_url, {"Authorization": "Bearer wrong-secret-abcdef"}),
        "refused": http_server_config("http://127.0.0.1:9/mcp?key=query-secret-xyz"),
        "web": http_server_config(http_url, {"Authorization": f"Bearer {TOKEN}"}),
    }
    warnings: list[str] = []

    async def run() -> list[str]:
        async with connected_mcp_servers(specs(config), warnings.append) as servers:
            return sorted(s.name for s in servers)

    assert asyncio.run(run()) == ["web", "words"]
    by_server = {w.split("'")[1]: w for w in warnings}
    assert len(warnings) == 4 and set(by_server) == {"missing", "crashes", "badtoken", "refused"}
    assert by_server["missing"] == "MCP server 'missing' did not start: command not found: kaiwa-no-such-command-xyz"
    assert "cannot open the dictionary (failing on purpose)" in by_server["crashes"]  # the child's last stderr line
    assert "HTTP 401" in by_server["badtoken"]
    for warning in warnings:
        assert "\n" not in warning and "Traceback" not in warning
        for secret in ("sk-should-not-leak-1234", "wrong-secret-abcdef", "query-secret-xyz", TOKEN):
            assert secret not in warning
    # Nothing else reached the terminal: no SDK log lines, no child stderr, no traceback.
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = {"hangs": stdio_server_config("--hang", env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)})}
    warnings: list[str] = []

    async def run() -> tuple[int, bool]:
        async with connected_mcp_servers(specs(config), warnings.append, connect_timeout=1.5) as servers:
            return len(servers), pid_alive(int(pid_file.read_text()))

    started = time.monotonic()
    assert asyncio.run(run()) == (0, False)  # the hung child was stopped before the block was entered
    assert warnings == ["MCP server 'hangs' did not start: no answer within 1.5 s"]
    assert time.monotonic() - started < 10


def test_cleanup_after_an_exception_inside_the_block(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = {"words": stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)})}

    async def session() -> None:
        async with connected_mcp_servers(specs(config), pytest.fail) as servers:
            assert len(servers) == 1 and pid_alive(int(pid_file.read_text()))
            raise RuntimeError("boom inside the session")

    async def run() -> bool:
        with pytest.raises(RuntimeError, match="boom inside the session"):
            await session()
        return pid_alive(int(pid_file.read_text()))  # checked before asyncio.run's own teardown

    assert asyncio.run(run()) is False


def test_cleanup_after_cancellation(tmp_path: Path) -> None:
    """Ctrl-C in asyncio.run cancels the main task: the block is left by CancelledError."""
    pid_file = tmp_path / "pid"
    config = {"words": stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)})}

    async def session(ready: asyncio.Event) -> None:
        async with connected_mcp_servers(specs(config), pytest.fail) as servers:
            assert len(servers) == 1
            ready.set()
            await asyncio.sleep(60)

    async def run() -> bool:
        ready = asyncio.Event()
        task = asyncio.create_task(session(ready))
        await asyncio.wait_for(ready.wait(), 30)
        alive = pid_alive(int(pid_file.read_text()))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return alive and not pid_alive(int(pid_file.read_text()))  # cleanup finished before the task did

    assert asyncio.run(run())


def test_cancellation_while_servers_are_still_starting(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = {
        "words": stdio_server_config(env={"KAIWA_FIXTURE_PID_FILE": str(pid_file)}),
        "hangs": stdio_server_config("--hang"),
    }

    async def run() -> None:
        async with connected_mcp_servers(specs(config), lambda _: None, connect_timeout=30):
            pytest.fail("the block must not be entered")

    async def main() -> None:
        task = asyncio.create_task(run())
        for _ in range(300):  # until the good server has started
            await asyncio.sleep(0.05)
            if pid_file.exists() and pid_file.read_text():
                break
        await asyncio.sleep(2)
        assert pid_alive(int(pid_file.read_text()))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not pid_alive(int(pid_file.read_text()))

    asyncio.run(main())


def test_sse_transport(tmp_path: Path) -> None:
    with running_http_server(transport="sse") as url:
        config = {"legacy": {"type": "sse", "url": url}}

        async def run() -> str:
            async with connected_mcp_servers(specs(config), pytest.fail) as servers:
                result = await servers[0].call_tool("count_letters", {"text": "Banana", "letter": "a"})
                return str(result.content[0].text)  # type: ignore[union-attr]

        assert asyncio.run(run()) == "[http-fixture] 3"
