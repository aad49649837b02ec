"""The REPL's input line (prompt_toolkit): keys, history kept across runs, completion and the bottom toolbar.

Imported only on the interactive path (prompt_toolkit costs ~0.1 s to import).

Keys: Enter sends; Alt-Enter (or Esc then Enter) inserts a newline; a bracketed paste is inserted whole (never
sent line by line); Up/Down walk the history; Ctrl-R searches it; Ctrl-X Ctrl-E opens $EDITOR; Ctrl-C clears the
line (the caller catches KeyboardInterrupt); Ctrl-D on an empty line leaves (EOFError).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

HISTORY_FILE = "repl-history"


def history_path() -> Path:
    """`<state folder>/repl-history`, created 0600 (the folder 0700) before prompt_toolkit appends to it."""
    from ...gateway.state import state_dir

    path = state_dir() / HISTORY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also tightens a file an older version left with the umask's mode
    finally:
        os.close(fd)
    return path


class ReplCompleter(Completer):
    """`/` + command names (with their one-line help); after `/model ` the proxy's aliases; after `/resume `
    recent sessions (short id, title); after `/attach ` file names. The providers return cached lists."""

    def __init__(
        self,
        commands: Callable[[], Sequence[tuple[str, str]]],
        aliases: Callable[[], Sequence[str]],
        sessions: Callable[[], Sequence[tuple[str, str]]],
    ) -> None:
        self.commands = commands
        self.aliases = aliases
        self.sessions = sessions

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or text.startswith("//") or "\n" in text:
            return
        if " " not in text:
            for name, help_line in self.commands():
                if name.startswith(text[1:]):
                    yield Completion("/" + name, start_position=-len(text), display_meta=help_line)
            return
        command, _, arg = text.partition(" ")
        if " " in arg:
            return
        if command == "/model":
            for alias in self.aliases():
                if alias.startswith(arg):
                    yield Completion(alias, start_position=-len(arg))
        elif command == "/resume":
            for short_id, title in self.sessions():
                if short_id.startswith(arg) or arg.lower() in title.lower():
                    yield Completion(short_id, start_position=-len(arg), display_meta=title)
        elif command == "/attach":
            from prompt_toolkit.completion import PathCompleter

            yield from PathCompleter(expanduser=True).get_completions(Document(arg), complete_event)
        elif command == "/reasoning":
            for effort in ("low", "medium", "high", "off"):
                if effort.startswith(arg):
                    yield Completion(effort, start_position=-len(arg))


def key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    # Alt-Enter sends ESC + CR, as does Esc then Enter. Eager: it wins over the emacs default (accept the line).
    # Typed ahead before the line was ready, the terminal turned Enter into Ctrl-J: the same key.
    @bindings.add("escape", "enter", eager=True)
    @bindings.add("escape", "c-j", eager=True)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    # Ctrl-X Ctrl-E: the line in $EDITOR, then back on the line to review, as /edit leaves it (prompt_toolkit's
    # own binding would send it the moment the editor closes).
    @bindings.add("c-x", "c-e")
    def _edit(event: KeyPressEvent) -> None:
        event.current_buffer.open_in_editor(validate_and_handle=False)

    return bindings


def make_session(completer: Completer, toolbar: Callable[[], Any], history: Path | None) -> PromptSession[str]:
    from prompt_toolkit.output.defaults import create_output

    # Answers may be piped (stdin a terminal, stdout a file): the input line then draws on stderr.
    output = None if os.isatty(1) else create_output(stdout=sys.stderr)
    return PromptSession(
        history=FileHistory(str(history)) if history is not None else None,
        completer=completer,
        complete_while_typing=True,
        key_bindings=key_bindings(),
        bottom_toolbar=toolbar,
        enable_open_in_editor=False,  # Ctrl-X Ctrl-E is ours (key_bindings): review, not send
        enable_history_search=False,  # Up/Down walk the whole history; Ctrl-R searches it
        multiline=False,  # Enter sends; newlines come from Alt-Enter, a paste or the editor
        prompt_continuation=lambda width, line, wrap: "… ".rjust(width),
        output=output,
        erase_when_done=False,
    )


def prompt_message() -> FormattedText:
    return FormattedText([("bold", "› ")])


def edit_in_editor(text: str = "") -> str | None:
    """`/edit`: the text as $VISUAL/$EDITOR (else nano or vi) leaves it; None when the editor failed."""
    import shlex
    import shutil
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    command = shlex.split(editor) if editor else [next((e for e in ("nano", "vi") if shutil.which(e)), "vi")]
    with tempfile.NamedTemporaryFile("w+", suffix=".md", prefix="kaiwa-", encoding="utf-8", delete=False) as f:
        f.write(text)
        name = f.name
    try:
        if subprocess.call([*command, name]) != 0:
            return None
        return Path(name).read_text(encoding="utf-8", errors="replace").rstrip("\n")
    except OSError:
        return None
    finally:
        os.unlink(name)


@contextlib.contextmanager
def keys_unechoed() -> Iterator[None]:
    """While an answer streams, keys typed ahead are not echoed into it (they wait for the next prompt); Ctrl-C
    still interrupts (the terminal keeps ISIG)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        before = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError):
        yield
        return
    quiet = list(before)
    quiet[3] &= ~termios.ECHO
    try:
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            termios.tcsetattr(fd, termios.TCSANOW, before)
