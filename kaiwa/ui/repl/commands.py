"""The REPL's general / commands: help, exit, edit, the model and its settings, tools, attachments, usage, copy.
(The conversation's own commands are in `session_commands.py`.)"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from ...errors import KaiwaError
from ...settings import REASONING_EFFORTS, VERBOSITY_LEVELS
from ...words import as_called
from ..format import cache_totals, money, plural, record_usage_line, token_counts
from .registry import COMMANDS, EXIT, command, first_line
from .state import Repl, as_typed

# -- general ----------------------------------------------------------------------------------------


@command("help", "/help", "the commands and keys")
async def _help(repl: Repl, arg: str) -> None:
    for c in COMMANDS.values():
        repl.err.print(Text.assemble((f"  {c.usage:<32}", "bold"), as_called(c.help)), highlight=False, soft_wrap=True)
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

    from .input import edit_in_editor

    text = await asyncio.to_thread(edit_in_editor, arg)
    if text is None:
        repl.say("the editor failed; nothing changed", "yellow")
    elif text.strip():
        repl.pending = as_typed(text)  # on the input line to review, as Ctrl-X Ctrl-E leaves it: Enter sends it
    else:
        repl.say("empty: nothing to send")


# -- the model ----------------------------------------------------------------------------------------


def check_alias(model: str, aliases: list[str]) -> None:
    """The proxy offers `model` (or does not list its models): else /model's one line."""
    if aliases and model not in aliases:
        raise KaiwaError(f"the proxy has no model alias {model!r}", f"use one of: {', '.join(aliases)}")


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
    check_alias(arg, aliases)
    repl.conversation.set_model(arg)
    repl.say(f"model: {arg} from the next turn on" + ("" if aliases else " (the proxy did not list its models)"))


def _choose(
    repl: Repl, arg: str, name: str, choices: tuple[str, ...], current: str | None, choose: Callable[[str | None], None]
) -> None:
    """`/reasoning`, `/verbosity`: the setting shown, or set from the next turn on ("off": none)."""
    value = arg.lower()
    if not value:
        repl.say(f"{name}: {current or 'off'}")
        return
    if value not in (*choices, "off"):
        raise KaiwaError(f"/{name} {arg!r} is not one of {', '.join(choices)}, off")
    choose(None if value == "off" else value)
    repl.say(f"{name}: {value}")


@command("reasoning", "/reasoning low|medium|high|off", "how hard the model reasons (models that cannot ignore it)")
async def _reasoning(repl: Repl, arg: str) -> None:
    _choose(repl, arg, "reasoning", REASONING_EFFORTS, repl.reasoning, repl.conversation.set_reasoning)


@command("verbosity", "/verbosity low|medium|high|off", "how long answers run (left out where a model cannot)")
async def _verbosity(repl: Repl, arg: str) -> None:
    verbosity = repl.conversation.options.verbosity
    _choose(repl, arg, "verbosity", VERBOSITY_LEVELS, verbosity, repl.conversation.set_verbosity)


@command("system", "/system [text]", "this session's instructions: show them, or set them (--default resets)")
async def _system(repl: Repl, arg: str) -> None:
    if not arg:
        if repl.instructions:
            repl.say("instructions for this session:")
            repl.say(repl.instructions, "")
        else:
            from ...core.options import INSTRUCTIONS

            repl.say(f"kaiwa's default instructions: {INSTRUCTIONS}")
        return
    text = None if arg == "--default" else arg
    await repl.conversation.set_instructions(text)
    repl.say("instructions reset to kaiwa's default" if text is None else "instructions set for this session")


@command("tools", "/tools", "the tools the model may call, and where each comes from")
async def _tools(repl: Repl, arg: str) -> None:
    from ...core.views import ServerUnlisted

    tools = await repl.conversation.tools()
    if not tools.enabled:
        repl.say("no tools (" + (f"role {tools.off_by_role}" if tools.off_by_role else "--no-tools") + ")")
        return
    when = {"run": "runs", "ask": "asks first", "decline": "declined"}
    for entry in tools.entries:  # names and descriptions come from the servers: say() shows them harmlessly
        if isinstance(entry, ServerUnlisted):
            repl.say(f"  MCP server {entry.server!r} did not list its tools: {entry.problem}", "yellow")
        elif not entry.server:
            repl.say(f"  {entry.name}  built-in · runs · {first_line(entry.description)}", "")
        else:
            why = f" ({entry.why})" if entry.why else ""
            about = first_line(entry.description)
            repl.say(f"  {entry.name}  MCP {entry.server} · {when[entry.action]}{why} · {about}", "")


@command("attach", "/attach FILE", "add a text file, image or PDF to your next message (--clear drops them)")
async def _attach(repl: Repl, arg: str) -> None:
    import shlex

    from ...core.inputs import check_together, load_attachment

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


@command("usage", "/usage", "this session's turns, tokens and cost; today's and this month's spend and caps")
async def _usage(repl: Repl, arg: str) -> None:
    from ..usage import usage_lines

    fields = ("input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens", "cache_write_tokens")
    usage = await repl.conversation.usage()
    turns = list(usage.turns)
    report = await repl.conversation.usage_report()
    if not turns:
        repl.say("no turns yet in this session")
        for line in usage_lines(report):
            repl.say(f"  {line}")
        return
    for n, t in enumerate(turns, 1):
        line = record_usage_line(t)
        repl.say(f"  {n:>3}. {line} · {t.duration_ms / 1000:.1f} s")
    costs = [t.cost for t in turns if t.cost is not None]
    total = f" · {money(sum(costs))}" if costs else ""
    counts = token_counts(*(sum(getattr(t, field) for t in turns) for field in fields))
    repl.say(f"  {plural(len(turns), 'turn')} · {counts}{total}", "bold")  # "in" as in each turn's line
    if any(t.cached_tokens or t.cache_write_tokens for t in turns):
        repl.say(f"  of the input: {cache_totals(turns, usage.prices)}")
    for line in usage_lines(report):
        repl.say(f"  {line}")


@command("copy", "/copy", "the last answer to the clipboard (through the terminal, OSC 52)")
async def _copy(repl: Repl, arg: str) -> None:
    import sys

    from ..clipboard import copy

    if not repl.last_answer:
        raise KaiwaError("no answer to copy yet")
    stream = sys.stdout if sys.stdout.isatty() else sys.stderr
    problem = copy(repl.last_answer, stream)
    if problem:
        raise KaiwaError(f"cannot copy: {problem}")
    repl.say(f"copied the last answer ({len(repl.last_answer):,} characters) to the clipboard")
