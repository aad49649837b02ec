"""A local estimate of how many tokens something will count as upstream, for decisions made before a request is
sent (a spending cap, the context meter's projection). Always labelled an estimate where it is shown: the
provider's own count, from the last usage, is the truth; this only covers what was never sent yet.

About 4 bytes of UTF-8 per token (close for English and code on the clouds kaiwa fronts; CJK text runs nearer
one token per character, which 3 bytes each over-estimates slightly — the safe side for a cap). An image counts
as the most a cloud charges for one (Claude: about 1,600 tokens), a PDF page-agnostic 1,500 per file.
"""

from __future__ import annotations

import json
from typing import Any

BYTES_PER_TOKEN = 4
IMAGE_TOKENS = 1_600
FILE_TOKENS = 1_500


def text_tokens(text: str) -> int:
    return -(-len(text.encode("utf-8", "replace")) // BYTES_PER_TOKEN)


def part_tokens(part: Any) -> int:
    if isinstance(part, str):
        return text_tokens(part)
    if not isinstance(part, dict):
        return text_tokens(json.dumps(part, ensure_ascii=False, default=str))
    kind = part.get("type")
    if kind == "input_image":
        return IMAGE_TOKENS
    if kind == "input_file":
        return FILE_TOKENS
    if isinstance(part.get("text"), str):
        return text_tokens(part["text"])
    return text_tokens(json.dumps(part, ensure_ascii=False, default=str))


def input_tokens(user_input: str | list[dict[str, Any]]) -> int:
    """The new message (text, documents, attachments): what a turn adds to what was sent before."""
    if isinstance(user_input, str):
        return text_tokens(user_input)
    total = 0
    for item in user_input:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            total += sum(part_tokens(part) for part in content)
        else:
            total += part_tokens(content if isinstance(content, str) else item)
    return total
