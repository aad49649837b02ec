"""The REPL's / commands. Each takes the `Repl` and the text after the command's name.

An unknown `/word` gets one line naming the closest command; `//text` sends "/text" as a message.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text

from ..errors import KaiwaError
from ..settings import REASONING_EFFORTS

if TYPE_CHECKING:
    from .repl import Repl

EXIT = object()  # what /exit returns to the loop


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[[Repl, str], Awaitable[Any]]


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, help: str) -> Callable[[Callable[[Repl, str], Awaitable[Any]]], Any]:
    def register(run: Callable[[Repl, str], Awaitable[Any]]) -> Callable[[Repl, str], Awaitable[Any]]:
        COMMANDS[name] = Command(name, usage, help, run)
        return run

    return register


def completions() -> Sequence[tuple[str, str]]:
    return [(c.name, c.help) for c in COMMANDS.values()] + [("quit", "leave (same as /exit)")]


async def dispatch(repl: Repl, line: str) -> Any:
    word, _, arg = line[1:].partition(" ")
    word = word.strip().lower()
    name = "exit" if word == "quit" else word
    found = COMMANDS.get(name)
    if found is None:
        close = difflib.get_close_matches(word, [*COMMANDS, "quit"], n=1, cutoff=0.5)
        hint = f"did you mean /{close[0]}?" if close else "/help lists the commands"
        repl.say(f"unknown command /{word}: {hint} (to send a message starting with /, type //)", "yellow")
        return None
    try:
        return await found.run(repl, arg.strip())
    except Exception as exc:  # a command that fails is one line; the REPL stays
        from .failures import explain

        repl.error(explain(exc, base_url=repl.endpoint.base_url, api_key=repl.endpoint.api_key, model=repl.model,
                           timeout=repl.settings.timeout))  # fmt: skip
        return None


# -- general ----------------------------------------------------------------------------------------


@command("help", "/help", "the commands and keys")
async def _help(repl: Repl, arg: str) -> None:
    for c in COMMANDS.values():
        repl.err.print(Text.assemble((f"  {c.usage:<32}", "bold"), c.help), highlight=False, soft_wrap=True)
    repl.say(
        "  keys: Enter sends · Alt-Enter or Esc Enter: new line · Up/Down: history · Ctrl-R: search it ·"
        " Ctrl-X Ctrl-E: $EDITOR · Ctrl-C: stop the answer / clear the line · Ctrl-D: leave · //text sends /text"
    )


@command("exit", "/exit", "leave (the session stays stored)")
async def _exit(repl: Repl, arg: str) -> object:
    return EXIT


@command("edit", "/edit", "write the next message in $EDITOR")
async def _edit(repl: Repl, arg: str) -> None:
    import asyncio

    from .repl_input import edit_in_editor

    text = await asyncio.to_thread(edit_in_editor, arg)
    if text is None:
        repl.say("the editor failed; nothing changed", "yellow")
    elif text.strip():
        repl.pending = text  # on the input line: Enter sends it
    else:
        repl.say("empty: nothing to send")


# -- the model ----------------------------------------------------------------------------------------


@command("model", "/model [alias]", "show the proxy's models, or switch to one from the next turn on")
async def _model(repl: Repl, arg: str) -> None:
    aliases = await repl.fetch_aliases() or repl.aliases
    if not arg:
        if not aliases:
            repl.say(f"model: {repl.model} (the proxy did not list its models)")
        for alias in aliases:
            mark = "*" if alias == repl.model else " "
            repl.err.print(Text(f" {mark} {alias}", style="bold" if mark == "*" else ""), highlight=False)
        return
    if aliases and arg not in aliases:
        raise KaiwaError(f"the proxy has no model alias {arg!r}", f"use one of: {', '.join(aliases)}")
    repl.model = arg
    repl.say(f"model: {arg} from the next turn on" + ("" if aliases else " (the proxy did not list its models)"))


@command("reasoning", "/reasoning low|medium|high|off", "how hard the model reasons (models that cannot ignore it)")
async def _reasoning(repl: Repl, arg: str) -> None:
    effort = arg.lower()
    if not effort:
        repl.say(f"reasoning: {repl.reasoning or 'off'}")
        return
    if effort not in (*REASONING_EFFORTS, "off"):
        raise KaiwaError(f"/reasoning {arg!r} is not one of low, medium, high, off")
    repl.reasoning = None if effort == "off" else effort
    repl.say(f"reasoning: {effort}")


@command("system", "/system [text]", "this session's instructions: show them, or set them (--default resets)")
async def _system(repl: Repl, arg: str) -> None:
    if not arg:
        if repl.instructions:
            repl.say("instructions for this session:")
            repl.say(repl.instructions, "")
        else:
            from .agent import INSTRUCTIONS

            repl.say(f"kaiwa's default instructions: {INSTRUCTIONS}")
        return
    text = None if arg == "--default" else arg
    if repl.info is not None:
        await repl.store.set_instructions(repl.session_id, text)
        repl.info = await repl.store.get_session(repl.session_id)
    repl.instructions = text
    repl.say("instructions reset to kaiwa's default" if text is None else "instructions set for this session")


@command("tools", "/tools", "the tools the model may call, and where each comes from")
async def _tools(repl: Repl, arg: str) -> None:
    engine = repl.engine
    if not engine.config.use_tools:
        repl.say("no tools (--no-tools)")
        return
    for tool in engine.tools():
        repl.say(f"  {tool.name}  built-in · {_first_line(tool.description)}", "")
    for server in engine.mcp_servers:
        try:
            listed = await server.list_tools()
        except Exception as exc:  # noqa: BLE001 - a broken server is one line, not the end of the REPL
            repl.say(f"  MCP server {server.name!r} did not list its tools: {type(exc).__name__}", "yellow")
            continue
        for tool in listed:  # names and descriptions come from the server: say() shows them harmlessly
            repl.say(f"  {tool.name}  MCP {server.name} · {_first_line(tool.description or '')}", "")


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 80 else line[:79] + "…"


# -- the conversation ---------------------------------------------------------------------------------


@command("new", "/new", "start a fresh session")
async def _new(repl: Repl, arg: str) -> None:
    repl.new_session()
    await repl.refresh_recent()
    repl.say("a new session: your next message starts it")


@command("attach", "/attach FILE", "add a text file, image or PDF to your next message (--clear drops them)")
async def _attach(repl: Repl, arg: str) -> None:
    import shlex

    try:
        from .inputs import check_together, load_attachment
    except ImportError:  # issue 11's attachments are not in this build yet
        raise KaiwaError("attachments are not available in this version of kaiwa") from None

    if not arg:
        if not repl.attachments:
            repl.say("nothing attached; /attach FILE adds a file to your next message")
        for a in repl.attachments:
            repl.say(f"  {a.name} ({a.kind}, {a.size:,} bytes)", "")
        return
    if arg == "--clear":
        repl.attachments = []
        repl.say("attachments dropped")
        return
    try:
        paths = shlex.split(arg)  # quotes for names with spaces
    except ValueError:
        paths = [arg]
    added = [load_attachment(path) for path in paths]  # a refusal is one line; nothing is added then
    check_together([*repl.attachments, *added])
    repl.attachments += added
    for a in added:
        repl.say(f"attached {a.name} ({a.kind}, {a.size:,} bytes) to your next message")
        if a.notice:
            repl.say(a.notice, "yellow")


@command("retry", "/retry", "send the last message again, replacing its answer")
async def _retry(repl: Repl, arg: str) -> None:
    from .repl import item_text, last_user_index

    items = await repl.store.items(repl.session_id) if repl.info is not None else []
    index = last_user_index(items)
    if index is None:
        raise KaiwaError("nothing to retry yet", "send a message first")
    text = item_text(items[index])
    repl.say(f"retrying: {_first_line(text)}")
    await repl.send(text, user_input=[items[index]], replace_from=index)


@command("undo", "/undo", "remove the last exchange from the session")
async def _undo(repl: Repl, arg: str) -> None:
    from .repl import item_role, item_text, last_user_index

    items = await repl.store.items(repl.session_id) if repl.info is not None else []
    index = last_user_index(items)
    if index is None:
        raise KaiwaError("nothing to undo", "the session has no exchange yet")
    turns = await repl.store.turns(repl.session_id)
    await repl.store.truncate(repl.session_id, index, max(0, len(turns) - 1))
    repl.info = await repl.store.get_session(repl.session_id)
    answers = [item_text(i) for i in items[:index] if item_role(i) == "assistant"]
    repl.last_answer = answers[-1] if answers else ""
    repl.say(f"removed the last exchange: “{_first_line(item_text(items[index]))}”")
    repl.pending = item_text(items[index])  # back on the input line, to edit or drop with Ctrl-C


@command("usage", "/usage", "this session's turns, tokens and cost")
async def _usage(repl: Repl, arg: str) -> None:
    from .render import record_usage_line

    turns = await repl.store.turns(repl.session_id) if repl.info is not None else []
    if not turns:
        repl.say("no turns yet")
        return
    for n, t in enumerate(turns, 1):
        line = record_usage_line(t)
        repl.say(f"  {n:>3}. {line} · {t.duration_ms / 1000:.1f} s")
    costs = [t.cost for t in turns if t.cost is not None]
    total = f" · ${sum(costs):.6f}".rstrip("0").rstrip(".") if costs else ""
    repl.say(
        f"  {len(turns)} turns · {sum(t.input_tokens for t in turns):,} in · "
        f"{sum(t.output_tokens for t in turns):,} out{total}",
        "bold",
    )


@command("copy", "/copy", "the last answer to the clipboard (through the terminal, OSC 52)")
async def _copy(repl: Repl, arg: str) -> None:
    import sys

    from .clipboard import copy

    if not repl.last_answer:
        raise KaiwaError("no answer to copy yet")
    stream = sys.stdout if sys.stdout.isatty() else sys.stderr
    problem = copy(repl.last_answer, stream)
    if problem:
        raise KaiwaError(f"cannot copy: {problem}")
    repl.say(f"copied the last answer ({len(repl.last_answer):,} characters) to the clipboard")


# The session commands (/sessions, /resume, /fork, /compact) register themselves from their own module.
from . import repl_sessions  # noqa: E402, F401
