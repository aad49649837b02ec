"""What goes into a turn, through the REAL proxy: piped text with --input as ONE message, `--input -`, attachments
(refused in one line each), invalid UTF-8, --system kept with the session, --temperature/--max-output-tokens;
plus the composition rules themselves (kaiwa/core/inputs.py) without a proxy."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kaiwa.core import inputs
from kaiwa.errors import UsageError
from tests.conftest import Kaiwa, Run
from tests.harness.asserts import one_line
from tests.harness.bodies import system_text
from tests.harness.db import stored_items
from tests.harness.files import PDF, png
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply

DIFF = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
-print("helo")
+print("hello")
"""


def user_messages(body: dict[str, Any]) -> list[Any]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


def run_bytes(kaiwa: Kaiwa, *args: str, stdin: bytes) -> Run:
    proc = subprocess.run(kaiwa.command(*args), input=stdin, capture_output=True, cwd=kaiwa.home, env=kaiwa.env)
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


# -- piped text and --input ---------------------------------------------------------------------------------
def test_pipe_and_input_reach_the_upstream_as_one_message(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    upstream.script(Reply(text="Fix the greeting's typo"))
    run = kaiwa("-i", "write the commit message", stdin=DIFF)
    assert run.code == 0, run.err
    assert run.out == "Fix the greeting's typo\n"
    [request] = upstream.model_requests()
    [content] = user_messages(request.body)  # ONE user message …
    assert [p["type"] for p in content] == ["text", "text"]  # … with both parts, the instruction first
    assert content[0]["text"] == "write the commit message"
    assert content[1]["text"] == f'<document name="stdin">\n{DIFF}</document>'
    with sqlite3.connect(kaiwa.db) as conn:  # the session is named after the user's words, not the diff
        [(title,)] = conn.execute("SELECT title FROM kaiwa_sessions").fetchall()
    assert title == "write the commit message"


def test_input_dash_reads_the_message_from_stdin(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = kaiwa("--input", "-", stdin="summarise: the sky is blue\n")
    assert run.code == 0, run.err
    [request] = upstream.model_requests()
    assert user_messages(request.body) == ["summarise: the sky is blue\n"]


def test_input_dash_with_nothing_piped_is_one_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = kaiwa("--input", "-", stdin="")
    assert run.code == 2
    assert "nothing was piped" in one_line(run)
    assert upstream.model_requests() == []


def test_invalid_utf8_on_stdin_is_replaced_with_one_notice(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = run_bytes(kaiwa, "-i", "what is this log?", stdin=b"caf\xe9 au lait\nok\n")
    assert run.code == 0, run.err
    notices = [line for line in run.err.splitlines() if "UTF-8" in line]
    assert notices == ["stdin is not valid UTF-8: 1 undecodable byte sequence(s) shown as �"]
    [content] = user_messages(upstream.model_requests()[0].body)
    assert "caf\ufffd au lait" in content[1]["text"]


def test_invalid_utf8_as_the_whole_message(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = run_bytes(kaiwa, stdin=b"\xff\xfe bonjour")
    assert run.code == 0, run.err
    assert user_messages(upstream.model_requests()[0].body) == ["\ufffd\ufffd bonjour"]


# -- attachments: refusals --------------------------------------------------------------------------------
def _refusals(tmp: Path) -> list[tuple[str, str]]:
    (tmp / "folder").mkdir()
    (tmp / "blob.bin").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    with (tmp / "huge.png").open("wb") as f:
        f.write(png(inputs.IMAGE_LIMIT))
    with (tmp / "huge.pdf").open("wb") as f:
        f.write(PDF + b" " * inputs.PDF_LIMIT)
    (tmp / "huge.log").write_text("line\n" * (inputs.TEXT_LIMIT // 5 + 1))
    unreadable = tmp / "secret.txt"
    unreadable.write_text("secret")
    unreadable.chmod(0)
    if os.geteuid() == 0:  # root reads any file: a file whose read fails is the honest stand-in
        unreadable_path, unreadable_says = "/proc/self/mem", "cannot attach /proc/self/mem: Input/output error"
    else:
        unreadable_path, unreadable_says = str(unreadable), "cannot attach " + str(unreadable) + ": permission denied"
    return [
        ("missing.txt", "error: cannot attach missing.txt: no such file — check the path"),
        ("folder", "error: cannot attach folder: it is a folder — attach the files in it one by one"),
        (unreadable_path, "error: " + unreadable_says),
        ("blob.bin", "error: cannot attach blob.bin: a binary file that is not an image (PNG, JPEG, WebP, GIF)"),
        ("huge.png", "error: cannot attach huge.png: 3,750,069 bytes is over the 3.75 MB limit for an image"),
        ("huge.pdf", "error: cannot attach huge.pdf: 4,500,074 bytes is over the 4.5 MB limit for a PDF"),
        ("huge.log", "error: cannot attach huge.log: 524,290 bytes is over the 512 KiB limit for a text file"),
    ]


def test_every_refused_attachment_is_one_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    for path, says in _refusals(kaiwa.home):
        run = kaiwa("-a", path, "-i", "look at this")
        assert run.code == 2, (path, run.err)
        line = one_line(run)
        assert line.startswith(says), (path, line)
        assert run.out == ""
    assert upstream.model_requests() == []


def test_too_many_images_and_too_much_in_total(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    shot.write_bytes(png())
    one = inputs.load_attachment(shot)
    with pytest.raises(UsageError, match="21 images in one message; the limit is 20"):
        inputs.check_together([one] * 21)
    doc = inputs.load_attachment(_write(tmp_path / "a.pdf", PDF))
    with pytest.raises(UsageError, match="6 PDFs in one message; the limit is 5"):
        inputs.check_together([doc] * 6)
    big = inputs.Attachment("big.png", "image", 3_700_000, one.part)
    with pytest.raises(UsageError, match="add up to 18.5 MB; one message may carry 15 MB"):
        inputs.check_together([big] * 5)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_composition_rules(tmp_path: Path) -> None:
    notes = inputs.load_attachment(_write(tmp_path / "notes.md", "# Notes\n\ncafé\n".encode()))
    assert notes.kind == "text" and notes.notice is None
    text = f'<document name="{tmp_path}/notes.md">\n# Notes\n\ncafé\n</document>'
    assert notes.part == {"type": "input_text", "text": text}
    latin = inputs.load_attachment(_write(tmp_path / "latin1.txt", "café".encode("latin-1")))
    assert latin.notice and "latin1.txt is not valid UTF-8" in latin.notice
    shot = inputs.load_attachment(_write(tmp_path / "shot.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x01" * 16))
    assert shot.part["type"] == "input_image" and shot.part["image_url"].startswith("data:image/webp;base64,UklGR")
    doc = inputs.load_attachment(_write(tmp_path / "paper.pdf", PDF))
    assert doc.part["type"] == "input_file" and doc.part["filename"] == "paper.pdf"
    assert doc.part["file_data"].startswith("data:application/pdf;base64,JVBER")
    # Just text stays a plain string; anything more is one message of parts, the user's words first.
    assert inputs.build_message("hi", None).turn_input() == "hi"
    assert inputs.build_message("hi", b"   \n").turn_input() == "hi"  # an empty pipe adds nothing
    [message] = inputs.build_message("hi", b"log", [str(tmp_path / "paper.pdf")]).turn_input()
    assert [p["type"] for p in message["content"]] == ["input_text", "input_text", "input_file"]
    with pytest.raises(UsageError, match="nothing to send"):
        inputs.build_message(None, None)
    with pytest.raises(UsageError, match="the message is empty"):
        inputs.build_message("  ", None)
    # An argument that was not UTF-8 (surrogate escapes from the OS) is cleaned, not a crash later.
    assert inputs.build_message("caf\udce9", None).notices == [
        "--input is not valid UTF-8: 1 undecodable byte sequence(s) shown as �"
    ]


def test_a_piped_text_over_the_limit_is_one_line(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    run = kaiwa("-i", "summarise", stdin="x" * (inputs.TEXT_LIMIT + 1))
    assert run.code == 2
    assert one_line(run).startswith("error: the piped text is over the 512 KiB limit")
    assert upstream.model_requests() == []


def test_attachments_on_the_openai_compatible_path(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    _write(kaiwa.home / "shot.png", png())
    (kaiwa.home / "app.py").write_text('print("hello")\n')
    run = kaiwa("-a", "shot.png", "--attach", "app.py", "-i", "what is wrong here?")
    assert run.code == 0, run.err
    [content] = user_messages(upstream.model_requests()[0].body)
    assert [p["type"] for p in content] == ["text", "image_url", "text"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert content[2]["text"] == '<document name="app.py">\nprint("hello")\n</document>'


# -- instructions and generation settings --------------------------------------------------------------------
def test_system_is_stored_with_the_session_and_replayed(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    first = kaiwa("-i", "hello", "--system", "Answer like a pirate.")
    sid = first.session_id
    assert sid, first.err
    kaiwa("-i", "again", "-s", sid)
    kaiwa("-i", "and again", "-s", sid, KAIWA_SYSTEM="Ignored: the session has its own.")
    changed = kaiwa("-i", "now plainly", "-s", sid, "--system", "Answer plainly.")
    kaiwa("-i", "still plainly?", "-s", sid)
    assert changed.code == 0, changed.err
    systems = [system_text(r.body) for r in upstream.model_requests()]
    assert systems == ["Answer like a pirate."] * 3 + ["Answer plainly."] * 2


def test_new_sessions_take_kaiwa_system_else_the_default(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    kaiwa("-i", "hi", KAIWA_SYSTEM="Be terse.")
    kaiwa("-i", "hi")
    first, second = (system_text(r.body) for r in upstream.model_requests())
    assert first == "Be terse."
    assert second.startswith("You are kaiwa")


def test_temperature_and_max_output_tokens_reach_the_upstream(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    kaiwa("-i", "hi", "--temperature", "0.3", "--max-output-tokens", "120")
    kaiwa("-i", "hi", KAIWA_TEMPERATURE="0.7", KAIWA_MAX_OUTPUT_TOKENS="50")
    kaiwa("-i", "hi")
    sent = [(r.body.get("temperature"), r.body.get("max_tokens")) for r in upstream.model_requests()]
    assert sent == [(0.3, 120), (0.7, 50), (None, None)]
    bad = kaiwa("-i", "hi", "--temperature", "3")
    assert bad.code == 2 and "--temperature 3 is out of range" in one_line(bad)


def test_json_of_the_stored_items_keeps_attachments(kaiwa: Kaiwa, upstream: OpenAIChatStandIn) -> None:
    _write(kaiwa.home / "shot.png", png())
    first = kaiwa("-a", "shot.png", "-i", "describe")
    assert first.session_id, first.err
    rows = stored_items(kaiwa.db)
    assert rows[0]["role"] == "user"
    assert [p["type"] for p in rows[0]["content"]] == ["input_text", "input_image"]
