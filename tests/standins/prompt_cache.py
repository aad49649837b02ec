"""The clouds' prompt caches, for the stand-ins: Claude's explicit prefix cache (Anthropic `cache_control`,
Bedrock `cachePoint`) and Gemini 2.5's implicit one.

A request is read as the ordered list of blocks the model sees, in the clouds' own order: tools, then
system, then each message's content blocks. A block is identified by its exact bytes (canonical JSON of
the block, without its cache marker, tagged with its section, message index and role), so two requests
share a prefix exactly when their first k blocks are byte-identical.

Tokens (the documented rule): a block costs 1 + ceil(b / 4) tokens, where b is the UTF-8 byte count of
every string inside it (texts, tool names, descriptions, schema words, JSON arguments) except the values
of `type` keys. About four bytes of English a token, as the clouds' own rule of thumb; keys, block types
and JSON punctuation are free, so one text costs the same in each cloud's format.

Claude's cache, as Anthropic and Bedrock document it:
- A cache point (marker) after block i asks to cache the prefix of blocks 0..i. At most 4 per request
  (the stand-in answers the cloud's 400 beyond that).
- A prefix shorter than the model's minimum (1,024 tokens; 2,048 for Haiku) is never cached: the point
  is ignored and the request succeeds.
- Reads: at each point the cache looks for a hit at that boundary and up to 20 block boundaries before it;
  the longest prefix found is read. A hit refreshes its 5-minute lifetime.
- Writes: the prefix at each eligible point is written; the tokens written are those between the end of
  what was read and the last eligible point.
- Usage: input tokens are the ones neither read nor written (after the last point, or all when nothing
  caches), reported beside the cache reads and writes.

Gemini 2.5's implicit cache: every request leaves its prefixes (at each block boundary) in the cache for
5 minutes; a later request's longest prefix found there, if at least the model's minimum (1,024 tokens;
4,096 for Pro), is reported as `cachedContentTokenCount` (a part of `promptTokenCount`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

TTL_SECONDS = 300.0  # the 5-minute lifetime, refreshed by each hit
LOOKBACK_BLOCKS = 20  # how far before a cache point the clouds look for an earlier hit
MAX_CACHE_POINTS = 4
CLAUDE_MIN_TOKENS = 1024
HAIKU_MIN_TOKENS = 2048
GEMINI_FLASH_MIN_TOKENS = 1024
GEMINI_PRO_MIN_TOKENS = 4096

TOO_MANY_POINTS = "A maximum of 4 blocks with cache_control may be provided. Found {n}."


def string_bytes(value: Any) -> int:
    """UTF-8 bytes of every string inside `value` (dict values, list items), keys and types excluded."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict):
        return sum(string_bytes(v) for k, v in value.items() if k != "type")
    if isinstance(value, list):
        return sum(string_bytes(v) for v in value)
    return 0


def block_tokens(block: Any) -> int:
    return 1 + -(-string_bytes(block) // 4)


@dataclass(frozen=True)
class Block:
    """One block of a request, as the cache sees it."""

    identity: bytes  # the exact bytes the cache keys on
    tokens: int


def make_block(section: str, index: int, role: str, block: Any) -> Block:
    tagged = {"section": section, "message": index, "role": role, "block": block}
    return Block(json.dumps(tagged, sort_keys=True, separators=(",", ":")).encode(), block_tokens(block))


@dataclass(frozen=True)
class CacheUsage:
    input_tokens: int  # neither read nor written
    read_tokens: int
    write_tokens: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.read_tokens + self.write_tokens


class PrefixCache:
    """Prefix entries keyed by the hash chain of a request's blocks (the model id first), each alive until
    its expiry. `clock` is a monotonic clock in seconds (tests move it to expire entries)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def chain(model: str, blocks: Iterable[Block]) -> list[bytes]:
        """The key of each prefix: keys[i] names blocks 0..i of this model's request."""
        keys = []
        digest = hashlib.sha256(model.encode()).digest()
        for block in blocks:
            digest = hashlib.sha256(digest + hashlib.sha256(block.identity).digest()).digest()
            keys.append(digest)
        return keys

    def _alive(self, key: bytes, now: float) -> bool:
        expiry = self._expiry.get(key)
        return expiry is not None and expiry > now

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()

    def explicit(self, model: str, blocks: list[Block], points: list[int], min_tokens: int) -> CacheUsage:
        """Claude's explicit cache for a request whose cache points follow the blocks at `points`."""
        keys = self.chain(model, blocks)
        cumulative: list[int] = []
        for block in blocks:
            cumulative.append((cumulative[-1] if cumulative else 0) + block.tokens)
        total = cumulative[-1] if cumulative else 0
        eligible = sorted({p for p in points if 0 <= p < len(blocks) and cumulative[p] >= min_tokens})
        now = self.clock()
        with self._lock:
            read_end = -1
            for point in eligible:
                for j in range(point, max(-1, point - LOOKBACK_BLOCKS - 1), -1):
                    if j > read_end and self._alive(keys[j], now):
                        read_end = j
                        break
            if read_end >= 0:
                self._expiry[keys[read_end]] = now + TTL_SECONDS
            written_to = read_end
            for point in eligible:
                self._expiry[keys[point]] = now + TTL_SECONDS
                written_to = max(written_to, point)
        read = cumulative[read_end] if read_end >= 0 else 0
        written = (cumulative[written_to] if written_to >= 0 else 0) - read
        return CacheUsage(total - read - written, read, written)

    def implicit(self, model: str, blocks: list[Block], min_tokens: int) -> CacheUsage:
        """Gemini's implicit cache: the longest prefix left by an earlier request is read (if long enough);
        every prefix of this one is left for the next."""
        keys = self.chain(model, blocks)
        cumulative: list[int] = []
        for block in blocks:
            cumulative.append((cumulative[-1] if cumulative else 0) + block.tokens)
        total = cumulative[-1] if cumulative else 0
        now = self.clock()
        with self._lock:
            hit = next((j for j in range(len(keys) - 1, -1, -1) if self._alive(keys[j], now)), -1)
            for key in keys:
                self._expiry[key] = now + TTL_SECONDS
        read = cumulative[hit] if hit >= 0 and cumulative[hit] >= min_tokens else 0
        return CacheUsage(total - read, read, 0)


# -- which models cache ----------------------------------------------------------------------------------
# Bedrock's prompt caching covers Claude 3.5 Haiku, 3.7 Sonnet and the Claude 4 family (and Amazon Nova); not
# Claude 3.5 Sonnet (v1 or v2) nor Claude 3 (AWS's "Supported models" table).
_BEDROCK_CACHING = re.compile(
    r"^(?:[a-z-]+\.)?(?:anthropic\.claude-(?:3-5-haiku|3-7-sonnet|sonnet-4|opus-4|haiku-4)|amazon\.nova-)"
)
_GEMINI_IMPLICIT = re.compile(r"^gemini-(?:2\.5|3)")


def bedrock_caches(model_id: str) -> bool:
    return bool(_BEDROCK_CACHING.match(model_id))


def claude_min_tokens(model: str) -> int:
    return HAIKU_MIN_TOKENS if "haiku" in model else CLAUDE_MIN_TOKENS


def gemini_min_tokens(model: str) -> int | None:
    """The implicit cache's minimum for a Gemini model, or None when the model has no implicit caching."""
    if not _GEMINI_IMPLICIT.match(model):
        return None
    return GEMINI_PRO_MIN_TOKENS if "pro" in model else GEMINI_FLASH_MIN_TOKENS


# -- each cloud's request, read into blocks and cache points ----------------------------------------------
@dataclass
class CachedRequest:
    blocks: list[Block]
    points: list[int]  # index of the block each cache point follows (a point before any block is left out)
    markers: int  # every cache marker in the request, as the 4-point limit counts them


class _Reader:
    def __init__(self) -> None:
        self.request = CachedRequest([], [], 0)

    def add(self, section: str, index: int, role: str, block: Any) -> None:
        self.request.blocks.append(make_block(section, index, role, block))

    def point(self) -> None:
        """A cache point after the blocks read so far."""
        self.request.markers += 1
        if self.request.blocks:
            self.request.points.append(len(self.request.blocks) - 1)


def anthropic_request(body: dict[str, Any]) -> CachedRequest:
    """Anthropic Messages: `cache_control` on a tool, a system block or a message's content block."""
    reader = _Reader()

    def add(section: str, index: int, role: str, block: Any) -> None:
        marked = isinstance(block, dict) and "cache_control" in block
        if marked:
            block = {k: v for k, v in block.items() if k != "cache_control"}
        reader.add(section, index, role, block)
        if marked:
            reader.point()

    for tool in body.get("tools") or []:
        add("tools", 0, "", tool)
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        add("system", 0, "", block)
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            add("messages", i, str(message.get("role")), block)
    return reader.request


def bedrock_request(body: dict[str, Any]) -> CachedRequest:
    """Bedrock Converse: a `cachePoint` entry among the tools, the system blocks or a message's content."""
    reader = _Reader()

    def read(section: str, index: int, role: str, blocks: Any) -> None:
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict) and "cachePoint" in block:
                reader.point()
            else:
                reader.add(section, index, role, block)

    read("tools", 0, "", (body.get("toolConfig") or {}).get("tools"))
    read("system", 0, "", body.get("system"))
    for i, message in enumerate(body.get("messages") or []):
        read("messages", i, str(message.get("role")), message.get("content"))
    return reader.request


def gemini_request(
    system_instruction: dict[str, Any] | None, tools: list[dict[str, Any]] | None, contents: list[dict[str, Any]]
) -> CachedRequest:
    """Gemini (field names already in camelCase): the system parts, the tools, then each content's parts."""
    reader = _Reader()
    for part in (system_instruction or {}).get("parts") or []:
        reader.add("system", 0, "", part)
    for tool in tools or []:
        reader.add("tools", 0, "", tool)
    for i, content in enumerate(contents):
        for part in content.get("parts") or []:
            reader.add("contents", i, str(content.get("role", "user")), part)
    return reader.request


def reported(reply: Any, measured: CacheUsage) -> CacheUsage:
    """What a stand-in reports for a `Reply`: the cache's figures, unless the test scripted the usage."""
    if reply.input_tokens is None:
        return measured
    return CacheUsage(reply.input_tokens, reply.cached_tokens, 0)
