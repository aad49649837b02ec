"""A session file the Agents SDK's own SQLiteSession wrote — what the original chat.py leaves behind — is adopted:
kaiwa's tables join the SDK's in one transaction, and its conversations are listed, shown, searched, exported and
continued with their whole history through the REAL proxy. chat.py runs as a subprocess; the file is written by the
real SDK (`SQLiteSession.add_items`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from tests.cli.test_sessions import text_of
from tests.conftest import Kaiwa
from tests.harness.db import stored_items
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply
from tests.store.test_contract import answer

MATH = "0199aaaa-0000-7000-8000-000000000001"
K8S = "0199aaaa-0000-7000-8000-000000000002"
NAMED = "default"  # the SDK takes any string as a session id


CONVERSATIONS: dict[str, list[dict[str, Any]]] = {
    MATH: [
        {"role": "user", "content": "What is 6*7?\n  Use the calculator."},
        {"type": "function_call", "call_id": "call_m1", "name": "calculate", "arguments": '{"expression": "6*7"}'},
        {"type": "function_call_output", "call_id": "call_m1", "output": "42"},
        answer("6*7 is 42, said the platypus.", 1),
        {"role": "user", "content": "And in words?"},
        answer("Forty-two.", 2),
    ],
    K8S: [
        {"role": "user", "content": [{"type": "input_text", "text": "How do I debug a kubernetes ingress?"}]},
        answer("Start with kubectl describe ingress.", 3),
    ],
    NAMED: [{"role": "user", "content": "hello kangaroo"}, answer("Hello!", 4)],
}
TIMES = {  # what the SDK's agent_sessions says (UTC text, as CURRENT_TIMESTAMP writes it)
    MATH: ("2025-03-01 09:00:00", "2025-03-01 09:05:00"),
    K8S: ("2025-04-01 10:00:00", "2025-04-02 11:00:00"),
    NAMED: ("2025-02-01 08:00:00", "2025-02-01 08:01:00"),
}


def write_sdk_file(path: Path) -> None:
    from agents.memory import SQLiteSession

    async def main() -> None:
        for sid, items in CONVERSATIONS.items():
            session = SQLiteSession(sid, path)
            half = len(items) // 2  # two writes, as two turns would
            await session.add_items(items[:half])  # type: ignore[arg-type]
            await session.add_items(items[half:])  # type: ignore[arg-type]
            session.close()

    asyncio.run(main())
    with sqlite3.connect(path) as conn:
        for sid, (created, updated) in TIMES.items():
            conn.execute(
                "UPDATE agent_sessions SET created_at=?, updated_at=? WHERE session_id=?", (created, updated, sid)
            )
    conn.close()


def listed(kaiwa: Kaiwa) -> list[dict[str, Any]]:
    run = kaiwa("sessions", "list", "--json")
    assert run.code == 0, run.err
    return json.loads(run.out)


def test_an_sdk_file_is_adopted_listed_shown_searched_exported_and_continued(
    kaiwa: Kaiwa, upstream: OpenAIChatStandIn
) -> None:
    write_sdk_file(kaiwa.db)
    first = kaiwa("sessions", "list", "--json")
    assert first.code == 0, first.err
    notices = [line for line in first.err.splitlines() if line.startswith("kaiwa: adopted")]
    assert len(notices) == 1 and "3 conversations" in notices[0] and str(kaiwa.db) in notices[0], first.err
    assert "'default'" in notices[0]  # renamed to a UUID, and said so
    sessions = json.loads(first.out)
    by_title = {s["title"]: s for s in sessions}
    assert list(by_title) == [  # most recently used first, by the SDK's own times
        "How do I debug a kubernetes ingress?",
        "What is 6*7? Use the calculator.",  # the first user message, on one line
        "hello kangaroo",
    ]
    math = by_title["What is 6*7? Use the calculator."]
    k8s = by_title["How do I debug a kubernetes ingress?"]
    named = by_title["hello kangaroo"]
    assert (math["id"], k8s["id"]) == (MATH, K8S)
    assert (math["created_at"], math["updated_at"]) == ("2025-03-01T09:00:00+00:00", "2025-03-01T09:05:00+00:00")
    assert (k8s["created_at"], k8s["updated_at"]) == ("2025-04-01T10:00:00+00:00", "2025-04-02T11:00:00+00:00")
    assert uuid.UUID(named["id"]).version == 7 and "'default'" in named["origin"]
    assert stored_items(kaiwa.db, named["id"]) == CONVERSATIONS[NAMED] and stored_items(kaiwa.db, NAMED) == []
    again = kaiwa("sessions", "list")
    assert again.code == 0 and "kaiwa: adopted" not in again.err  # said once: the file is kaiwa's now

    shown = json.loads(kaiwa("sessions", "show", MATH, "--json").out)
    assert shown["messages"] == [
        {"role": "user", "text": "What is 6*7?\n  Use the calculator."},
        {"role": "tool", "name": "calculate", "arguments": {"expression": "6*7"}, "output": "42"},
        {"role": "assistant", "text": "6*7 is 42, said the platypus."},
        {"role": "user", "text": "And in words?"},
        {"role": "assistant", "text": "Forty-two."},
    ]
    assert shown["origin"] == "adopted" and shown["turns"] == 0
    found = kaiwa("sessions", "search", "platypus", "--json")
    assert found.code == 0 and [h["id"] for h in json.loads(found.out)] == [MATH], found.err
    assert [h["id"] for h in json.loads(kaiwa("sessions", "search", "ingress", "--json").out)] == [K8S]
    assert [h["id"] for h in json.loads(kaiwa("sessions", "search", "kangaroo", "--json").out)] == [named["id"]]
    exported = kaiwa("sessions", "export", MATH, "--format", "json")
    assert exported.code == 0 and json.loads(exported.out)["items"] == CONVERSATIONS[MATH]

    upstream.script(Reply(text="Zweiundvierzig."))
    resumed = kaiwa("--input", "And in German?", "--session-id", MATH)
    assert resumed.code == 0 and resumed.out == "Zweiundvierzig.\n", resumed.err
    sent = [m for m in upstream.model_requests()[-1].body["messages"] if m["role"] != "system"]
    assert [(m["role"], m.get("content")) for m in sent if m["role"] in ("user", "tool")] == [
        ("user", "What is 6*7?\n  Use the calculator."),
        ("tool", "42"),
        ("user", "And in words?"),
        ("user", "And in German?"),
    ]
    call = next(m for m in sent if m["role"] == "assistant" and m.get("tool_calls"))
    assert call["tool_calls"][0]["function"]["name"] == "calculate"
    assert [text_of(m) for m in sent if m["role"] == "assistant" and m.get("content")][-2:] == [
        "6*7 is 42, said the platypus.",
        "Forty-two.",
    ]
    assert stored_items(kaiwa.db, MATH)[: len(CONVERSATIONS[MATH])] == CONVERSATIONS[MATH]
    assert len(stored_items(kaiwa.db, MATH)) == len(CONVERSATIONS[MATH]) + 2
    info = next(s for s in listed(kaiwa) if s["id"] == MATH)
    assert info["turns"] == 1 and info["model"] == "fake-a"  # kaiwa's usage from its first turn on
    assert upstream.rejections == []


def test_a_file_with_the_sdks_tables_and_another_is_refused_untouched(kaiwa: Kaiwa) -> None:
    write_sdk_file(kaiwa.db)
    with sqlite3.connect(kaiwa.db) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = hashlib.sha256(kaiwa.db.read_bytes()).hexdigest()
    run = kaiwa("sessions", "list")
    assert run.code == 1 and "another application (tables: notes)" in run.err, run.err
    assert hashlib.sha256(kaiwa.db.read_bytes()).hexdigest() == before
