"""What goes into a turn: the user's words, piped text, attached files and images, composed as ONE user message.

- `--input TEXT` alone: the message is the text (a plain string, as before).
- `--input TEXT` with text piped on stdin: the text, then the piped text as a delimited document
  (`<document name="stdin">…</document>`), e.g. `git diff | chat.py -i "write the commit message"`.
- `--input -`, or no `--input` with a pipe: stdin is the message itself.
- `--attach FILE` (repeatable; the REPL's `/attach`): text files as delimited documents carrying their name,
  PNG/JPEG/WebP/GIF as Responses `input_image` parts (data URLs), PDFs as `input_file` parts. The proxy bridges
  these to Bedrock `image`/`document` blocks, Anthropic `image`/`document` sources and Gemini `inline_data`.

Limits (the smallest of the clouds behind the proxy, so an attachment kaiwa accepts is accepted by every alias):

| what | limit | why |
| --- | --- | --- |
| an image | 3.75 MB | Bedrock Converse (Anthropic allows 5 MB, Gemini 7 MB inline) |
| a PDF | 4.5 MB | Bedrock Converse documents (Anthropic 32 MB, Gemini 50 MB) |
| images in one message | 20 | Bedrock Converse (Anthropic 100) |
| PDFs in one message | 5 | Bedrock Converse documents |
| a text file, or piped text | 512 KiB | about 130k tokens: leaves room in a 200k-token context window |
| all attachments of a message | 15 MB | Vertex's 20 MB inline request limit once base64 adds a third |

Pixel dimensions (8000 px on Bedrock and Anthropic) are not checked: that would need an image library.
Text that is not valid UTF-8 is decoded with U+FFFD replacements and one notice; a refusal is one line.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import UsageError
from ..store.base import Item

MB = 1_000_000
IMAGE_LIMIT = 3_750_000
PDF_LIMIT = 4_500_000
TEXT_LIMIT = 512 * 1024
TOTAL_LIMIT = 15 * MB
MAX_IMAGES = 20
MAX_PDFS = 5
BINARY_SNIFF = 8000  # like git: a NUL byte in the first 8000 bytes means binary

IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def _size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.2f}".rstrip("0").rstrip(".") + " MB"
    return f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


def sniff(head: bytes) -> str | None:
    """The kind of a file from its first bytes: an IMAGE_TYPES key, "pdf", or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def decode_text(data: bytes, what: str) -> tuple[str, str | None]:
    """UTF-8 text (a BOM dropped), undecodable bytes replaced by U+FFFD; the notice says so, else None."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        bad = text.count("\ufffd") - data.decode("utf-8-sig", errors="ignore").count("\ufffd")
        return text, f"{what} is not valid UTF-8: {bad} undecodable byte sequence(s) shown as �"


def clean_argument(text: str, what: str = "--input") -> tuple[str, str | None]:
    """Command-line text with bytes that were not UTF-8 (surrogate escapes) replaced, and the notice."""
    try:
        text.encode("utf-8")
        return text, None
    except UnicodeEncodeError:
        return decode_text(text.encode("utf-8", "surrogateescape"), what)


def document(name: str, text: str) -> str:
    """A named document, delimited so the model tells it from the request around it."""
    body = text if text.endswith("\n") else text + "\n"
    return f'<document name="{name}">\n{body}</document>'


@dataclass(frozen=True)
class Attachment:
    name: str  # the path as the user gave it
    kind: str  # "text", "image" or "pdf"
    size: int  # bytes on disk
    part: Item  # the Responses content part
    notice: str | None = None  # e.g. invalid UTF-8 replaced


def _refuse(name: str, what: str, hint: str) -> UsageError:
    return UsageError(f"cannot attach {name}: {what}", hint)


def _check_size(name: str, kind: str | None, size: int) -> None:
    limit = IMAGE_LIMIT if kind in IMAGE_TYPES else PDF_LIMIT if kind == "pdf" else TEXT_LIMIT
    if size > limit:
        label = "an image" if kind in IMAGE_TYPES else "a PDF" if kind == "pdf" else "a text file"
        shown = _size(size) if _size(size) != _size(limit) else f"{size:,} bytes"
        raise _refuse(
            name,
            f"{shown} is over the {_size(limit)} limit for {label}",
            "resize or compress it (e.g. as JPEG)"
            if kind in IMAGE_TYPES
            else "send fewer pages (split it)"
            if kind
            else "send the part that matters (e.g. with head or grep)",
        )


def attachment_from_bytes(name: str, data: bytes) -> Attachment:
    """What an editor sends inside a message (an image, an embedded file), under the same limits as a file."""
    kind = sniff(data[:BINARY_SNIFF])
    _check_size(name, kind, len(data))
    return _part(name, kind, data)


def load_attachment(path: str | os.PathLike[str]) -> Attachment:
    """Read one file into a content part; every refusal is a UsageError (one line)."""
    name = os.fspath(path)
    target = Path(os.path.expanduser(name))
    try:
        stat = target.stat()
    except FileNotFoundError:
        raise _refuse(name, "no such file", "check the path") from None
    except OSError as exc:
        raise _refuse(name, exc.strerror or "cannot read it", "check the path and its permissions") from None
    if target.is_dir():
        raise _refuse(name, "it is a folder", "attach the files in it one by one, e.g. -a FOLDER/FILE")
    if not target.is_file():
        raise _refuse(name, "not a regular file", "save it to a file first, or pipe it on stdin")
    try:
        with target.open("rb") as handle:
            head = handle.read(BINARY_SNIFF)
            kind = sniff(head)
            _check_size(name, kind, stat.st_size)
            data = head + handle.read()
    except PermissionError:
        raise _refuse(name, "permission denied", "check its permissions (or run as a user who may read it)") from None
    except OSError as exc:
        raise _refuse(name, exc.strerror or "unreadable", "check the file") from None
    return _part(name, kind, data)


def _part(name: str, kind: str | None, data: bytes) -> Attachment:
    if kind in IMAGE_TYPES:
        url = f"data:{IMAGE_TYPES[kind]};base64,{base64.b64encode(data).decode()}"
        return Attachment(name, "image", len(data), {"type": "input_image", "image_url": url, "detail": "auto"})
    if kind == "pdf":
        url = f"data:application/pdf;base64,{base64.b64encode(data).decode()}"
        part = {"type": "input_file", "filename": Path(name).name, "file_data": url}
        return Attachment(name, "pdf", len(data), part)
    if b"\x00" in data[:BINARY_SNIFF]:
        raise _refuse(
            name, "a binary file that is not an image (PNG, JPEG, WebP, GIF) or a PDF", "attach text, images or PDFs"
        )
    text, notice = decode_text(data, name)
    if notice and text.count("\ufffd") > len(text) // 3:
        raise _refuse(name, "a binary file that is not an image (PNG, JPEG, WebP, GIF) or a PDF", "attach text")
    return Attachment(name, "text", len(data), {"type": "input_text", "text": document(name, text)}, notice)


def check_together(attachments: Sequence[Attachment]) -> None:
    """The limits on one message's attachments as a whole."""
    images = sum(a.kind == "image" for a in attachments)
    pdfs = sum(a.kind == "pdf" for a in attachments)
    total = sum(a.size for a in attachments)
    if images > MAX_IMAGES:
        raise UsageError(f"{images} images in one message; the limit is {MAX_IMAGES}", "send them over several turns")
    if pdfs > MAX_PDFS:
        raise UsageError(f"{pdfs} PDFs in one message; the limit is {MAX_PDFS}", "send them over several turns")
    if total > TOTAL_LIMIT:
        raise UsageError(
            f"the attachments add up to {_size(total)}; one message may carry {_size(TOTAL_LIMIT)}",
            "send them over several turns",
        )


def compose_input(
    text: str, documents: Sequence[tuple[str, str]] = (), attachments: Sequence[Attachment] = ()
) -> str | list[Item]:
    """ONE user message: the user's text, then each (name, text) document, then the attachments' parts.
    Just text stays a plain string."""
    if not documents and not attachments:
        return text
    parts: list[Item] = [{"type": "input_text", "text": text}]
    parts += [{"type": "input_text", "text": document(name, body)} for name, body in documents]
    parts += [a.part for a in attachments]
    return [{"role": "user", "content": parts}]


_DOCUMENT = re.compile(r'\A<document name="([^"\n]*)">\n(.*)</document>\Z', re.S)


def split_message(item: Item) -> tuple[str, list[Attachment]]:
    """A stored user message taken apart again (what `compose_input` put together): the words the user typed, and
    its documents, images and PDFs as attachments, so `/undo` can put both back as they were."""
    content = item.get("content")
    if isinstance(content, str):
        return content, []
    words: list[str] = []
    attachments: list[Attachment] = []
    for part in content if isinstance(content, list) else []:
        kind = part.get("type")
        text = part.get("text")
        if kind == "input_text" and isinstance(text, str) and (doc := _DOCUMENT.match(text)):
            attachments.append(Attachment(doc.group(1), "text", len(doc.group(2).encode()), part))
        elif kind == "input_text" and isinstance(text, str):
            words.append(text)
        elif kind == "input_image":
            url = str(part.get("image_url") or "")
            name = f"image {sum(a.kind == 'image' for a in attachments) + 1}"
            attachments.append(Attachment(name, "image", _data_size(url), part))
        elif kind == "input_file":
            url = str(part.get("file_data") or "")
            attachments.append(Attachment(str(part.get("filename") or "a file"), "pdf", _data_size(url), part))
    return "\n\n".join(words), attachments


def _data_size(url: str) -> int:
    """The bytes a base64 data URL carries."""
    data = url.partition(",")[2]
    return len(data) * 3 // 4 - data[-2:].count("=")


@dataclass
class Message:
    """A turn's input as the command line gave it."""

    text: str  # the user's own words (shown back if the turn fails; the session's title)
    documents: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def turn_input(self) -> str | list[Item]:
        return compose_input(self.text, self.documents, self.attachments)


def read_piped(stdin: BinaryIO | None, is_terminal: bool) -> bytes | None:
    """What was piped on stdin (read to its end), or None when stdin is a terminal or closed."""
    if stdin is None or is_terminal:
        return None
    data = stdin.read(TEXT_LIMIT + 1)
    if len(data) > TEXT_LIMIT:
        raise UsageError(
            f"the piped text is over the {_size(TEXT_LIMIT)} limit",
            "pipe the part that matters (e.g. with head, tail or grep)",
        )
    return data


def build_message(given: str | None, piped: bytes | None, attach: Sequence[str] = ()) -> Message:
    """`--input` (None, text or "-"), what was piped, and `--attach` paths → the message, or a one-line refusal."""
    notices: list[str] = []
    stdin_text: str | None = None
    if piped is not None:
        stdin_text, notice = decode_text(piped, "stdin")
        notices += [notice] if notice else []
        if not stdin_text.strip():
            stdin_text = None
    if given is not None and given != "-":
        text, notice = clean_argument(given)
        notices += [notice] if notice else []
        documents = [("stdin", stdin_text)] if stdin_text is not None else []
    else:
        if stdin_text is None:
            if given == "-":
                raise UsageError("--input - reads the message from stdin, but nothing was piped", "pipe text in")
            raise UsageError("nothing to send", 'give --input "your message" (or pipe text on stdin)')
        text, documents = stdin_text, []
    if not text.strip():
        raise UsageError("the message is empty", 'give --input "your message"')
    attachments = [load_attachment(path) for path in attach]
    check_together(attachments)
    notices += [a.notice for a in attachments if a.notice]
    return Message(text, documents, attachments, notices)
