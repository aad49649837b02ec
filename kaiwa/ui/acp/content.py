"""What crosses the protocol: an editor's prompt blocks → one kaiwa user message (as `-a` composes one), kaiwa's
turn events → `session/update`s, and a stored session's items → the updates that replay it on `session/load`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from acp import schema as s
from acp.helpers import (
    image_block,
    text_block,
    tool_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_user_message,
    update_user_message_text,
)

from ...core.events import Event, ReasoningDelta, TextDelta, ToolCalled, ToolReturned, TurnRetrying
from ...core.history import json_arguments, json_output
from ...core.inputs import (
    Attachment,
    Item,
    attachment_from_bytes,
    check_together,
    compose_input,
    load_attachment,
    split_message,
)
from ...errors import UsageError
from ...tools.display import describe_call, describe_result

Update = Any  # one of the SDK's session/update models
Block = Any  # one of the SDK's prompt content blocks


def _name(uri: str) -> str:
    """A resource's name as the model reads it: a local file's path, else the URI."""
    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme == "file" else uri


def turn_input(blocks: Sequence[Block]) -> tuple[str | list[Item], str]:
    """The prompt as ONE user message, and its words (the session's title). Text blocks are the words; an
    embedded text resource becomes a `<document>`, an image or an embedded file an attachment, a link to a local
    file the file itself. A refusal (too large, unreadable, audio) is one line (UsageError)."""
    words: list[str] = []
    documents: list[tuple[str, str]] = []
    attachments: list[Attachment] = []
    for block in blocks:
        if isinstance(block, s.TextContentBlock):
            words.append(block.text)
        elif isinstance(block, s.ImageContentBlock):
            attachments.append(attachment_from_bytes(block.uri or "image", _decode(block.data, "an image")))
        elif isinstance(block, s.EmbeddedResourceContentBlock):
            resource = block.resource
            if isinstance(resource, s.TextResourceContents):
                documents.append((_name(resource.uri), resource.text))
            else:
                attachments.append(attachment_from_bytes(_name(resource.uri), _decode(resource.blob, resource.uri)))
        elif isinstance(block, s.ResourceContentBlock):
            path = _name(block.uri)
            if urlsplit(block.uri).scheme == "file" and Path(path).is_file():
                attachments.append(load_attachment(path))
            else:
                words.append(f"[{block.name}]({block.uri})")
        else:
            raise UsageError("kaiwa cannot take audio in a message", "send text, images, files or their links")
    check_together(attachments)
    text = "\n\n".join(words)
    return compose_input(text, documents, attachments), text


def _decode(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{what} is not valid base64", "send the file's bytes base64-encoded") from None


# -- a turn's events ----------------------------------------------------------------------------------------------
def tool_kind(name: str) -> str:
    """ACP's kind of a call, for the editor's icon: kaiwa's own tools only think; an MCP tool may do anything."""
    return "think" if name in ("calculate", "current_time") else "other"


def tool_started(call_id: str, name: str, arguments: str) -> Update:
    return s.ToolCallStart(
        session_update="tool_call",
        tool_call_id=call_id,
        title=describe_call(name, arguments),
        kind=tool_kind(name),  # type: ignore[arg-type]
        status="in_progress",
        raw_input=json_arguments(arguments),
    )


def tool_finished(call_id: str, output: Any, failed: bool = False) -> Update:
    return s.ToolCallProgress(
        session_update="tool_call_update",
        tool_call_id=call_id,
        status="failed" if failed else "completed",
        content=[tool_content(text_block(describe_result(output, 2000)))],
        raw_output=json_output(output),
    )


def update_for(event: Event) -> Update | None:
    """The `session/update` a turn event becomes (None: nothing the editor shows)."""
    if isinstance(event, TextDelta):
        return update_agent_message_text(event.delta)
    if isinstance(event, ReasoningDelta):
        return update_agent_thought_text(event.delta)
    if isinstance(event, ToolCalled):
        return tool_started(event.call_id, event.name, event.arguments)
    if isinstance(event, ToolReturned):
        return tool_finished(event.call_id, event.output, failed=event.output == REJECTED)
    if isinstance(event, TurnRetrying):  # sent text cannot be taken back: it stays, marked, and the new answer follows
        return update_agent_message_text(
            f"\n\n↻ cut off ({event.reason}); trying again ({event.attempt} of {event.of})\n\n"
        )
    return None


REJECTED = "Tool execution was not approved."  # the Agents SDK's output for a declined call


# -- a stored session, replayed ---------------------------------------------------------------------------------
def _user_updates(item: Item) -> list[Update]:
    text, attachments = split_message(item)
    updates: list[Update] = [update_user_message_text(text)] if text else []
    for attachment in attachments:
        url = str(attachment.part.get("image_url") or "")
        if attachment.kind == "image" and url.startswith("data:") and ";base64," in url:
            mime, _, data = url[5:].partition(";base64,")
            updates.append(update_user_message(image_block(data, mime)))
        else:
            updates.append(update_user_message_text(attachment.part.get("text") or f"[{attachment.name}]"))
    return updates


def replay(items: Sequence[Item]) -> list[Update]:
    """A stored conversation as the updates that show it: the user's messages (with their attachments), the
    answers, reasoning, and each tool call with its result."""
    from ...core.history import parts_text

    updates: list[Update] = []
    for item in items:
        kind, role = item.get("type"), item.get("role")
        if role == "user" and kind in (None, "message"):
            updates += _user_updates(item)
        elif role == "assistant" and kind in (None, "message"):
            if text := parts_text(item.get("content"), ("output_text", "text", "refusal")):
                updates.append(update_agent_message_text(text))
        elif kind == "reasoning":
            text = parts_text(item.get("summary"), ("summary_text",))
            if text:
                updates.append(update_agent_thought_text(text))
        elif kind == "function_call":
            call_id = str(item.get("call_id") or "")
            updates.append(tool_started(call_id, str(item.get("name") or "tool"), str(item.get("arguments") or "")))
        elif kind == "function_call_output":
            output = item.get("output")
            updates.append(tool_finished(str(item.get("call_id") or ""), output, failed=output == REJECTED))
    return updates


def permission_call(call_id: str, title: str, arguments: str) -> s.ToolCallUpdate:
    """The call a permission request is about."""
    return s.ToolCallUpdate(
        tool_call_id=call_id, title=title, kind="other", status="pending", raw_input=json_arguments(arguments)
    )


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
