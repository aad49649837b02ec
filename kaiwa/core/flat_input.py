"""A turn whose cost does not grow with the conversation: the stored history goes from the store to the wire
without passing through per-item Python walks.

Two walks made a long session slow (10,000 items: 19 s of CPU before anything was sent):
- the openai client runs every input item through `_async_transform_recursive` against the request's TypedDicts
  (about 1.6 ms per item). For Responses input that walk changes nothing kaiwa sends: no input type declares a
  key alias or a date/base64 format; it only turns pydantic objects into dicts. `extra_body` is merged into the
  body *after* the transform, so `FlatInputResponses.create` hands `input` over that way.
- the Agents SDK prepares session history for every model call of a turn (deep copies for JSON, metadata
  stripping, orphan-call pruning, dedupe: about 0.5 s at 10,000 items). The stored history is the SDK's own
  output of earlier turns, already in that shape; so the Runner sees only this turn's items (`TurnOnlyBuffer`)
  and the client puts the history in front of them (`history_sent_first`). `prepare_history` checks, in one
  cheap pass, that the history needs none of the SDK's rewriting (kaiwa stores whole turns; items carry unique
  ids); a session that does (an orphan call from an old crash, a repeated id, SDK metadata keys) goes through
  the SDK's own functions for it, as before.

Same endpoint, same JSON fields and values on the wire (the body's key order differs: `input` comes last).
Streaming, retries, errors, tools: the SDK's and the client's own code paths. `KAIWA_SLOW_HISTORY=1` restores
the old path (the Runner reads the history, the client walks it): for before/after measurements, or as an
escape hatch should a future SDK need the history itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cached_property
from typing import Any

from openai import AsyncOpenAI, omit
from openai.resources.responses import AsyncResponses
from pydantic import BaseModel

from .turn_buffer import SdkItem, TurnBuffer

SLOW_SWITCH = "KAIWA_SLOW_HISTORY"

# The history of the turn being run. A ContextVar, because the Runner runs the turn in a task of its own (it
# copies the context when it starts) and the SDK may copy the client (`with_options`) on the way.
_HISTORY: ContextVar[Sequence[SdkItem]] = ContextVar("kaiwa_turn_history", default=())

# Item types kaiwa's conversations are made of, for which the SDK's history preparation is a no-op when every
# call has its output and no id repeats. Anything else takes the SDK's own path.
_PLAIN_TYPES = frozenset({"message", "reasoning", "function_call", "function_call_output"})
# Keys the SDK strips from stored items before replaying them (session metadata, other providers' data).
_STRIPPED_KEYS = frozenset({"_agents_tool_description", "_agents_tool_title", "created_by", "provider_data"})
_FAKE_ID = "__fake_id__"  # agents.models.fake_id.FAKE_RESPONSES_ID


def slow_history() -> bool:
    return os.environ.get(SLOW_SWITCH) == "1"


def json_item(item: Any) -> Any:
    """An input item as the client's transform would send it: pydantic objects dumped (unset fields left out,
    `__api_exclude__` honoured); dicts as they are (the JSON encoder dumps any pydantic object nested in them)."""
    if isinstance(item, BaseModel):
        return item.model_dump(exclude_unset=True, mode="json", exclude=getattr(item, "__api_exclude__", None))
    return item


class FlatInputResponses(AsyncResponses):
    """`responses.create` (and so `with_streaming_response.create`, which wraps it) with the turn's history put
    in front of `input`, and the whole list sent through `extra_body`: the same body, without the per-item walk."""

    async def create(  # type: ignore[override]
        self, *, input: Any = omit, extra_body: Any = None, **kwargs: Any
    ) -> Any:
        history = _HISTORY.get()
        if isinstance(input, str) and history:
            input = [{"content": input, "role": "user"}]
        if isinstance(input, list | tuple):
            extra_body = {**(extra_body or {}), "input": [*history, *(json_item(item) for item in input)]}
            input = omit
        return await super().create(input=input, extra_body=extra_body, **kwargs)


class FlatInputOpenAI(AsyncOpenAI):
    """`AsyncOpenAI` whose `responses` resource is `FlatInputResponses`; everything else unchanged."""

    @cached_property
    def responses(self) -> AsyncResponses:
        return FlatInputResponses(self)


def client_class() -> type[AsyncOpenAI]:
    return AsyncOpenAI if slow_history() else FlatInputOpenAI


class TurnOnlyBuffer(TurnBuffer):
    """The turn's session as the Runner sees it: only what this turn added (the history travels separately)."""

    async def get_items(self, limit: int | None = None) -> list[SdkItem]:
        return self.pending[-limit:] if limit else list(self.pending)


@contextmanager
def history_sent_first(history: Sequence[SdkItem]) -> Iterator[None]:
    """While the turn runs, every Responses call of `FlatInputOpenAI` sends `history` before the turn's input.
    Enter it before `Runner.run_streamed` (the Runner's task copies the context when it starts)."""
    token = _HISTORY.set(history)
    try:
        yield
    finally:
        _HISTORY.reset(token)


def _is_plain(items: Sequence[SdkItem]) -> bool:
    """True when the SDK's history preparation would send `items` unchanged: plain kaiwa item types, none of the
    keys it strips, every call answered, every output called, and no id or call id used twice."""
    calls: set[Any] = set()
    outputs: set[Any] = set()
    ids: set[tuple[str, str]] = set()
    for item in items:
        if not isinstance(item, dict):
            return False
        if item.get("id") == _FAKE_ID or not _STRIPPED_KEYS.isdisjoint(item):
            return False
        kind = item.get("type")
        if "role" in item and kind in (None, "message"):
            continue  # the SDK never dedupes messages
        if kind not in _PLAIN_TYPES:
            return False
        for key in ("id", "call_id", "approval_request_id"):
            value = item.get(key)
            if isinstance(value, str):
                if (kind, key + value) in ids:
                    return False
                ids.add((kind, key + value))
        call_id = item.get("call_id")
        if kind == "function_call":
            calls.add(call_id)
        elif kind == "function_call_output":
            outputs.add(call_id)
    return calls == outputs


def _as_the_sdk_prepares(items: list[SdkItem]) -> list[SdkItem]:
    """The SDK's own preparation of stored history for a Responses model (what the slow path does with it)."""
    from agents.run_internal.items import (
        deduplicate_input_items_preferring_latest,
        drop_orphan_function_calls,
        ensure_input_item_format,
        normalize_input_items_for_api,
    )

    formatted = [ensure_input_item_format(item) for item in items]
    kept = drop_orphan_function_calls(formatted, pruning_indexes=set(range(len(formatted))))
    prepared = deduplicate_input_items_preferring_latest(normalize_input_items_for_api(kept))
    cleaned: list[SdkItem] = []
    for item in prepared:  # OpenAIResponsesModel._remove_openai_responses_api_incompatible_fields
        if not isinstance(item, dict):
            cleaned.append(item)
        elif not (item.get("type") == "reasoning" and item.get("provider_data")):
            cleaned.append(
                {k: v for k, v in item.items() if k != "provider_data" and not (k == "id" and v == _FAKE_ID)}
            )
    return cleaned


def prepare_history(items: list[SdkItem]) -> list[SdkItem]:
    """The stored history ready to send: as it is when that is what the SDK would send (one cheap pass), else
    through the SDK's own functions."""
    return items if _is_plain(items) else _as_the_sdk_prepares(items)
