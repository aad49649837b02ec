"""A turn that survives the network, and one that never pretends its tools did not run.

A model call whose stream breaks off (`stream_watch.StreamCut`) is run again, up to KAIWA_STREAM_RETRIES times,
after a backoff with jitter. The retry is a new Runner run whose input is what the turn has produced so far: the
user's message and every completed step, tool calls with their results among them (the SDK writes a step to the
turn's buffer only once its tools have run). So a tool is never run twice: its call and output go back as input,
keyed by their call id, and the model continues after them. The same mechanism continues a failed turn whose tools
ran (the failed turn keeps them in the session; a retry of its message runs from them).

What a face must not show twice decides the rest: plain text written to a pipe cannot be taken back, so a cut
after text went there is not retried (`redo_text` False).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from ..store.base import Item, TurnRecord
from .stream_watch import StreamCut

BACKOFF_FIRST = 0.5  # seconds before the first retry (then doubled each time, at most BACKOFF_MAX), with jitter
BACKOFF_MAX = 8.0


class TurnBroke(Exception):
    """A turn failed; `__cause__` is what went wrong. `sent`: the message reached the proxy. `kept`: names of the
    tools that ran before the failure, stored with the session as a failed turn."""

    def __init__(self, cause: BaseException, *, sent: bool, kept: tuple[str, ...] = ()) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.sent = sent
        self.kept = kept


class CutNotRetried(StreamCut):
    """A cut that is not tried again: `attempts` were made (retries exhausted), or text had already gone where it
    cannot be taken back (`written`)."""

    def __init__(self, cut: StreamCut, attempts: int, *, written: bool = False) -> None:
        super().__init__(cut.reason, stalled=cut.stalled)
        self.attempts = attempts
        self.written = written


@dataclass
class Attempts:
    """The attempts of one turn: how many are allowed, and every attempt's run (all were paid for)."""

    retries: int
    redo_text: bool = True  # False: text already shown cannot be taken back (plain text into a pipe)
    # Each attempt's latest run (a RunResultStreaming; one resumed after approvals carries the usage and responses
    # of the runs before it, so only the latest counts).
    runs: list[Any] = field(default_factory=list)

    @property
    def number(self) -> int:
        return max(1, len(self.runs))

    def begin(self) -> None:
        self.runs.append(None)

    def ran(self, run: Any) -> None:
        self.runs[-1] = run

    @property
    def most(self) -> int:
        return 1 + self.retries

    def check(self, cut: StreamCut, text_streamed: bool) -> None:
        """Raise the cut as `CutNotRetried` unless it may be tried again."""
        if text_streamed and not self.redo_text:
            raise CutNotRetried(cut, self.number, written=True) from cut
        if self.number >= self.most:
            raise CutNotRetried(cut, self.number) from cut

    def delay(self) -> float:
        """Exponential backoff with full jitter on its upper half: many clients cut at once do not come back
        together."""
        ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.number - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    def usage(self) -> Any:
        """The usage of every attempt's completed model calls, added up."""
        from agents.usage import Usage

        total = Usage()
        for run in self.runs:
            if run is not None:
                total.add(run.context_wrapper.usage)
        return total

    def raw_responses(self) -> list[Any]:
        return [response for run in self.runs if run is not None for response in run.raw_responses]


def complete_items(items: list[Item]) -> list[Item]:
    """`items` without a function call that has no output (a step the SDK did not finish)."""
    answered = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    return [item for item in items if item.get("type") != "function_call" or item.get("call_id") in answered]


def ran_tools(items: list[Item]) -> tuple[str, ...]:
    """The names of the tools whose calls have an output among `items`, in order."""
    answered = {item.get("call_id") for item in items if item.get("type") == "function_call_output"}
    return tuple(
        str(item.get("name") or "tool")
        for item in items
        if item.get("type") == "function_call" and item.get("call_id") in answered
    )


def merged_record(earlier: TurnRecord, later: TurnRecord) -> TurnRecord:
    """One turn's record from a failed turn and the run that continued it: both were paid for."""
    costs = [c for c in (earlier.cost, later.cost) if c is not None]
    return replace(
        later,
        input_tokens=earlier.input_tokens + later.input_tokens,
        output_tokens=earlier.output_tokens + later.output_tokens,
        reasoning_tokens=earlier.reasoning_tokens + later.reasoning_tokens,
        cached_tokens=earlier.cached_tokens + later.cached_tokens,
        cache_write_tokens=earlier.cache_write_tokens + later.cache_write_tokens,
        cost=sum(costs) if costs else None,
        request_ids=earlier.request_ids + later.request_ids,
        duration_ms=earlier.duration_ms + later.duration_ms,
        attempts=earlier.attempts + later.attempts,
    )
