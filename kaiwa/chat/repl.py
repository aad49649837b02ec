"""Interactive mode: `uv run chat.py` on a terminal opens a conversation the user keeps typing into.

Everything slow is set up once per REPL — the Agents SDK import, the openai client and its HTTP pool, the MCP
servers (`ChatEngine`) and the store — and torn down on every way out: /exit, Ctrl-D, an exception, SIGTERM and
SIGHUP (the signal cancels the main task, so `ChatEngine.__aexit__` stops the MCP servers).

Ctrl-C while an answer streams cancels the turn's task at once; a turn is atomic, so nothing of it is stored,
and its message goes back on the input line. Ctrl-C at the prompt only clears the line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ..errors import KaiwaError
from ..settings import Settings
from ..store.base import Item, SessionInfo, TurnRecord, make_title


@dataclass
class ReplOptions:
    session_id: str | None = None  # full id, short id or a unique fragment
    continue_latest: bool = False  # -c: the most recently used session
    model: str = ""
    reasoning: str | None = None
    use_tools: bool = True
    mcp_config: Path | None = None
    show_reasoning: bool = True
    plain: bool = False
    instructions: str | None = None  # --system: for a new session, or replacing a resumed one's
    temperature: float | None = None  # --temperature (else KAIWA_TEMPERATURE)
    max_output_tokens: int | None = None  # --max-output-tokens (else KAIWA_MAX_OUTPUT_TOKENS)
    attach: list[str] = dataclasses.field(default_factory=list)  # -a FILE: attached to the first message
    debug: bool = False


def item_role(item: Item) -> str | None:
    if item.get("type", "message") != "message":
        return None
    role = item.get("role")
    return str(role) if role else None


def item_text(item: Item) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    parts = [str(p.get("text", "")) for p in content or [] if isinstance(p, dict) and "text" in p]
    return "".join(parts)


def last_user_index(items: list[Item]) -> int | None:
    return next((i for i in range(len(items) - 1, -1, -1) if item_role(items[i]) == "user"), None)


class Repl:
    def __init__(self, settings: Settings, options: ReplOptions, store: Any, endpoint: Any) -> None:
        self.settings = settings
        self.options = options
        self.store = store
        self.endpoint = endpoint
        self.engine: Any = None
        self.out = Console(soft_wrap=False)
        self.err = Console(stderr=True)
        self.model = options.model
        self.reasoning = options.reasoning
        self.session_id = ""
        self.info: SessionInfo | None = None
        self.instructions: str | None = None
        self.last_answer = ""
        self.pending = ""  # text to put back on the input line
        self.session: Any = None  # the prompt_toolkit session, once the loop runs
        self.attachments: list[Any] = []  # /attach: files for the next message (chat.inputs.Attachment)
        self.aliases: list[str] = []
        self.recent: list[SessionInfo] = []
        self.stop_signal: int | None = None
        self._turn_task: asyncio.Future[Any] | None = None
        self._interrupted = False

    # -- output ----------------------------------------------------------------------------------
    def say(self, line: str, style: str = "dim") -> None:
        """One line on stderr; stored text (titles, messages, tool descriptions) in it is shown harmlessly."""
        from .sanitize import clean

        self.err.print(Text(clean(line), style=style), highlight=False, soft_wrap=True)

    def error(self, exc: KaiwaError) -> None:
        if self.options.debug:
            self.err.print_exception()
        from .sanitize import clean

        self.err.print(Text(clean(exc.line()), style="bold red"), highlight=False, soft_wrap=True)

    def toolbar(self) -> str:
        info = self.info
        from .sanitize import clean

        parts = [self.model, clean(info.title) if info and info.title else "new"]
        if info is not None:
            parts.append(f"{info.turns} turn{'s' if info.turns != 1 else ''}")
            parts.append(f"{info.input_tokens + info.output_tokens:,} tokens")
            if info.cost:
                parts.append(f"${info.cost:.4f}")
        if self.reasoning:
            parts.append(f"reasoning {self.reasoning}")
        if self.attachments:
            parts.append(f"{len(self.attachments)} attached")
        return " " + " · ".join(parts)

    # -- sessions --------------------------------------------------------------------------------
    def new_session(self) -> None:
        from ..store.sqlite import new_session_id

        self.session_id = new_session_id()
        self.info = None
        self.instructions = self.options.instructions or self.settings.system
        self.last_answer = ""

    async def open_session(self, info: SessionInfo) -> None:
        self.session_id = info.session_id
        self.info = info
        self.instructions = info.instructions
        items = await self.store.items(info.session_id)
        answers = [item_text(i) for i in items if item_role(i) == "assistant"]
        self.last_answer = answers[-1] if answers else ""

    def describe(self, info: SessionInfo) -> None:
        """Where a resumed session stands: title, turns, model, the last answer's first lines."""
        self.say(f"resumed {info.short_id}: “{info.title}” · {info.turns} turns · last model {info.model}", "bold")
        if self.last_answer:
            lines = [line for line in self.last_answer.strip().splitlines() if line.strip()]
            for line in lines[:3]:
                self.say("  │ " + (line if len(line) <= 100 else line[:99] + "…"))
            if len(lines) > 3:
                self.say(f"  │ … ({len(lines) - 3} more lines)")

    async def refresh_recent(self) -> None:
        with contextlib.suppress(Exception):
            self.recent = await self.store.list_sessions(50)

    async def fetch_aliases(self) -> list[str]:
        from .failures import proxy_aliases

        found = await asyncio.to_thread(proxy_aliases, self.endpoint.base_url, self.endpoint.api_key)
        if found:
            self.aliases = found
        return found

    # -- a turn ----------------------------------------------------------------------------------
    def on_sigint(self) -> None:
        """Ctrl-C outside the input line (the prompt reads it as a key): cancel the running turn, if any."""
        task = self._turn_task
        if task is not None and not task.done():
            self._interrupted = True
            task.cancel()

    def unechoed(self) -> contextlib.AbstractContextManager[None]:
        if self.session is None:  # not at a terminal's prompt (tests, bench)
            return contextlib.nullcontext()
        from .repl_input import keys_unechoed

        return keys_unechoed()

    async def foreground(self, work: Any) -> Any:
        """Run `work` (a coroutine) so that Ctrl-C cancels it; returns None when it was cancelled so."""
        self._interrupted = False
        self._turn_task = task = asyncio.ensure_future(work)
        try:
            with self.unechoed():
                return await task
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            self.say("interrupted", "yellow")
            return None
        finally:
            self._turn_task = None

    def on_stop(self, signum: int, main: asyncio.Task[Any]) -> None:
        self.stop_signal = signum
        main.cancel()

    async def send(
        self, text: str, user_input: str | list[Item] | None = None, replace_from: int | None = None
    ) -> bool:
        from ..gateway.endpoint import touch
        from .render import Renderer, record_usage_line
        from .turn import TurnOptions

        if self.endpoint.managed:
            touch()  # an open REPL keeps the local gateway from idling out
        renderer = Renderer(
            self.out,
            self.err,
            markdown=self.out.is_terminal and not self.options.plain,
            show_reasoning=self.options.show_reasoning,
        )
        options = TurnOptions(
            model=self.model,
            reasoning=self.reasoning,
            instructions=self.instructions,
            temperature=self.options.temperature if self.options.temperature is not None else self.settings.temperature,
            max_output_tokens=self.options.max_output_tokens or self.settings.max_output_tokens,
        )
        sid = self.session_id
        self._interrupted = False
        self._turn_task = task = asyncio.ensure_future(
            self.engine.run_turn(
                self.store,
                sid,
                user_input if user_input is not None else text,
                options,
                renderer,
                replace_from=replace_from,
                on_wait=lambda: self.say(f"waiting: another kaiwa process is in a turn on session {sid}"),
            )
        )
        try:
            with self.unechoed():
                result = await task
        except asyncio.CancelledError:
            if not self._interrupted:
                raise  # SIGTERM/SIGHUP: the main task is being cancelled
            self.say("interrupted: nothing of this turn was saved; your message is back on the input line", "yellow")
            self.pending = text
            return False
        except Exception as exc:
            from .failures import explain

            self.error(
                explain(
                    exc,
                    base_url=self.endpoint.base_url,
                    api_key=self.endpoint.api_key,
                    model=self.model,
                    timeout=self.settings.timeout,
                )
            )
            self.pending = text
            return False
        finally:
            self._turn_task = None
        record: TurnRecord = result.record
        renderer.usage(record_usage_line(record))
        self.last_answer = result.answer
        if replace_from is not None:
            self.info = await self.store.get_session(sid)
        else:
            self._count(record, text)
        return True

    def _count(self, record: TurnRecord, text: str) -> None:
        """The toolbar's figures after a turn, without asking the store again (keeps a turn's overhead flat)."""
        info = self.info or SessionInfo(
            self.session_id, 0.0, 0.0, record.model, make_title(text), instructions=self.instructions
        )
        cost = None if info.cost is None and record.cost is None else (info.cost or 0.0) + (record.cost or 0.0)
        self.info = dataclasses.replace(
            info,
            model=record.model,
            turns=info.turns + 1,
            input_tokens=info.input_tokens + record.input_tokens,
            output_tokens=info.output_tokens + record.output_tokens,
            cost=cost,
        )

    # -- the loop --------------------------------------------------------------------------------
    async def loop(self) -> None:
        from . import repl_commands as commands
        from .repl_input import ReplCompleter, history_path, make_session, prompt_message

        try:
            history: Path | None = history_path()
        except OSError as exc:
            self.say(f"no input history this time: {exc}", "yellow")
            history = None
        completer = ReplCompleter(
            commands.completions, lambda: self.aliases, lambda: [(s.short_id, s.title) for s in self.recent]
        )
        self.session = session = make_session(completer, self.toolbar, history)
        while True:
            default, self.pending = self.pending, ""
            try:
                line = await session.prompt_async(prompt_message(), default=default, handle_sigint=False)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line; it never leaves
            except EOFError:
                return  # Ctrl-D on an empty line
            if not line.strip():
                continue
            if line.startswith("/") and not line.startswith("//"):
                if await commands.dispatch(self, line) is commands.EXIT:
                    return
                continue
            await self.send_message(line[1:] if line.startswith("//") else line)

    async def send_message(self, text: str) -> bool:
        """A message typed at the prompt, with what /attach added to it (kept if the turn does not complete)."""
        if not self.attachments:
            return await self.send(text)
        from .inputs import compose_input

        sent = await self.send(text, user_input=compose_input(text, (), self.attachments))
        if sent:
            self.attachments = []
        return sent

    def goodbye(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # SIGHUP: the terminal may be gone
            if self.info is not None:
                self.err.print(f"SESSION_ID={self.session_id}", highlight=False, soft_wrap=True)
                self.say(f"continue it with: uv run chat.py -s {self.session_id[-8:]}  (or -c while it is the latest)")
            else:
                self.say("nothing was said, so no session was stored")


def run_repl(settings: Settings, options: ReplOptions) -> int:
    """The interactive mode; returns the exit code (0, or 128+signal after SIGTERM/SIGHUP)."""
    if sys.platform == "win32":  # pragma: no cover - loop.add_signal_handler is POSIX only
        raise KaiwaError("the interactive mode needs a POSIX terminal", 'use --input "…" instead')
    from .repl_start import start

    return asyncio.run(start(settings, options))
