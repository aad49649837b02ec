"""The context meter: how much of the model's window the conversation holds, and what the next turn would make of
it (the projection automatic compaction decides on).

The count is the provider's own, from the last model call's usage (its input, cached tokens included, plus its
answer): never a local guess shown as exact. Before a turn only the new message is unknown; it is added as a local
estimate (`estimate.py`) and labelled so. The window comes from the proxy (`/model/info`'s `max_input_tokens`,
asked once per conversation), or KAIWA_CONTEXT_WINDOW; a model with neither gets no meter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .estimate import part_tokens, text_tokens
from .views import ContextParts, ContextUse, ToolInfo, Tools

if TYPE_CHECKING:
    from ..gateway.proxy_info import Limits
    from ..store.base import Item, TurnRecord

RESERVE_SHARE = 10  # percent of the window kept for the answer when nothing says how long it may be
RESERVE_MOST = 20  # percent: a model's stated answer limit is not reserved whole when it is most of the window


def last_call_tokens(raw_responses: list[Any]) -> tuple[int, int] | None:
    """(input, answer) of the last model call of a run, as the provider counted them (input includes cached
    tokens); None when it gave no usage."""
    for response in reversed(raw_responses):
        usage = getattr(response, "usage", None)
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            return int(usage.input_tokens), int(usage.output_tokens)
    return None


class Meter:
    """One conversation's meter. `limits`: asks the proxy for every alias's limits (called once, on first need);
    `override`: KAIWA_CONTEXT_WINDOW."""

    def __init__(self, limits: Callable[[], dict[str, Limits] | None], override: int | None) -> None:
        self._ask = limits
        self._known: dict[str, Limits] | None = None
        self._override = override
        self.used: int | None = None  # None: nothing counted in this session yet
        self.last_answer = 0
        self.said_unknown: set[str] = set()

    def limits(self, model: str) -> tuple[int, int | None] | None:
        """(window, answer limit) for `model`, or None when neither the proxy nor the setting says. Blocking on
        first use (the proxy is asked): call it off the event loop."""
        if self._known is None:
            self._known = self._ask() or {}
        stated = self._known.get(model)
        if self._override is not None:
            return self._override, stated.max_output if stated else None
        return (stated.max_input, stated.max_output) if stated else None

    def counted(self, tokens: tuple[int, int] | None) -> None:
        """After a model call: its input and answer, as the provider counted them."""
        if tokens is not None:
            self.used = tokens[0] + tokens[1]
            self.last_answer = tokens[1]

    def resumed(self, last: TurnRecord | None) -> None:
        """A stored session: its last turn's count (a turn of one call: exact; with tool rounds, its last call's
        share is not stored, so the turn's input is an upper bound)."""
        self.used = None if last is None else last.input_tokens + last.output_tokens
        self.last_answer = 0 if last is None else last.output_tokens

    def forget(self) -> None:
        self.used = None
        self.last_answer = 0

    def use(self, model: str, max_output: int | None, new_message: int = 0) -> ContextUse | None:
        """Where the context stands for `model` (None: its window is unknown); `new_message`: the local estimate
        of what the next turn adds."""
        known = self.limits(model)
        if known is None:
            return None
        window, stated = known
        answer = max_output or stated or window * RESERVE_SHARE // 100
        reserve = min(answer, window * RESERVE_MOST // 100)
        return ContextUse(self.used or 0, window, reserve, new_message, self.last_answer)


def breakdown(use: ContextUse, instructions: str | None, tools: Tools, items: list[Item]) -> ContextParts:
    """What fills the context: the parts kaiwa can estimate locally, and the rest of the provider's count as
    history (never below 0: the estimates may overshoot a small count)."""
    said = text_tokens(instructions or "")
    offered = sum(text_tokens(t.name + t.description) for t in tools.entries if isinstance(t, ToolInfo))
    attached = sum(
        part_tokens(part)
        for item in items
        if isinstance(item.get("content"), list)
        for part in item["content"]
        if isinstance(part, dict) and part.get("type") in ("input_image", "input_file")
    )
    history = max(0, use.used - said - offered - attached - use.last_answer)
    parts = (("instructions", said), ("tools", offered), ("history", history), ("attachments", attached),
             ("last answer", use.last_answer))  # fmt: skip
    return ContextParts(use, parts)
