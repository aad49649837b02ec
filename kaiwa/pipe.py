"""A reader that closes the pipe early (`chat.py sessions | head -1`, `chat.py -i … | head -2`).

Unix tools end quietly then; kaiwa does too, but only once its work is done: a turn already sent is paid for,
so it is finished and stored (a later `-c` continues it) with nothing more written, and the process then ends with
PIPE_CLOSED, 128 + SIGPIPE, what a shell reports for any tool cut short (`set -o pipefail` sees the cut).
Bottom layer, stdlib only: the faces write through `write`, and the entry point reads `Pipe.reader_gone`.
"""

from __future__ import annotations

import os
import sys
from typing import IO

PIPE_CLOSED = 141


class Pipe:
    """Whether a reader went away: the process then ends with PIPE_CLOSED."""

    reader_gone = False


def quiet_broken_pipe(fd: int | None = None) -> None:
    """The reader is gone: point the stream (stdout unless `fd` says) at /dev/null, so later writes and the
    interpreter's final flush are harmless, and remember it for the exit code."""
    Pipe.reader_gone = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno() if fd is None else fd)
        os.close(devnull)
    except (OSError, ValueError):
        pass


def write(stream: IO[str], text: str) -> None:
    """`text` to `stream`, flushed; a reader that left is met quietly (the work goes on)."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        try:
            fd: int | None = stream.fileno()
        except (OSError, ValueError):
            fd = None
        quiet_broken_pipe(fd)
