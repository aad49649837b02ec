"""`chat.py sessions …` on a store of many conversations, against `chat.py --help` measured in the same run.

    uv run python bench/bench_sessions.py [--sessions 1000] [--big 2000] [--runs 5]

Fills a fresh SQLite file through the store interface (`create_session`, as import does): `--sessions`
conversations of 10 turns each (a user message, a tool call and its output, an answer per turn), plus one of
`--big` items. Then times list, list --json (all), search (FTS5), naming by fragment, show (Markdown and JSON)
and export of the big one, each as a user runs it (a process, stdout to a file). The baseline is `chat.py --help`:
the interpreter, Typer and kaiwa's CLI modules, which every command pays anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_cli import measure, row  # noqa: E402
from kaiwa.settings import load_settings  # noqa: E402
from kaiwa.store import open_store  # noqa: E402
from kaiwa.store.base import SessionDump, SessionInfo, TurnRecord  # noqa: E402
from kaiwa.store.ids import new_session_id  # noqa: E402

WORDS = [
    "terraform",
    "state",
    "lock",
    "backend",
    "bucket",
    "region",
    "module",
    "provider",
    "plan",
    "apply",
    "output",
    "variable",
]


def conversation(n: int, turns: int) -> tuple[list[dict[str, object]], list[TurnRecord]]:
    items: list[dict[str, object]] = []
    for t in range(turns):
        topic = f"{WORDS[(n + t) % len(WORDS)]} question {n}-{t}"
        items.append({"role": "user", "content": f"Tell me about the {topic}, in some detail please."})
        items.append(
            {"type": "function_call", "call_id": f"c{t}", "name": "calculate", "arguments": '{"expression": "6*7"}'}
        )
        items.append({"type": "function_call_output", "call_id": f"c{t}", "output": "42"})
        text = f"Here is what I know about the {topic}. " * 8
        items.append(
            {
                "id": f"msg_{n}_{t}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return items, [TurnRecord("fake-a", 900, 120, 0, 0, 0.0012, (), 800, time.time()) for _ in range(turns)]


async def fill(db: Path, sessions: int, big: int) -> tuple[str, str]:
    os.environ["SESSION_DB_PATH"] = str(db)
    store = open_store(load_settings(None))
    await store.open()
    try:
        now = time.time()
        for n in range(sessions):
            items, turns = conversation(n, 10)
            sid = new_session_id()
            info = SessionInfo(sid, now - n * 600, now - n * 600, "fake-a", f"conversation {n}")
            await store.create_session(SessionDump(info, items, turns))
        items, turns = conversation(sessions, big // 4)
        items[0] = {"role": "user", "content": "the one about zanzibar"}
        big_id = new_session_id()
        await store.create_session(SessionDump(SessionInfo(big_id, now, now, "fake-a", "big one"), items, turns))
        return big_id, items[0]["content"]  # type: ignore[return-value]
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--big", type=int, default=2000, help="items in the one big session")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    py, chat = sys.executable, str(REPO / "chat.py")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db = home / "s.sqlite3"
        began = time.perf_counter()
        big_id, _ = asyncio.run(fill(db, args.sessions, args.big))
        size = db.stat().st_size / 2**20
        print(
            f"store: {args.sessions} sessions × 40 items + one of {args.big} items, {size:.0f} MB,"
            f" filled in {time.perf_counter() - began:.1f} s through create_session"
        )
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "SESSION_DB_PATH": str(db),
            "KAIWA_STATE_DIR": str(home / "state"),
            "KAIWA_MCP_CONFIG": "",
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        }
        print(
            f"bytecode: {'not written (PYTHONDONTWRITEBYTECODE=1)' if env['PYTHONDONTWRITEBYTECODE'] else 'cached'};"
            f" {args.runs} runs each: median wall and CPU time, peak RSS.\n"
        )
        base = measure([py, chat, "--help"], env, args.runs)
        row("chat.py --help (baseline)", base)
        cases = [
            ("sessions list (newest 20)", ["sessions", "list"]),
            (f"sessions list --json --limit {args.sessions + 1}", ["sessions", "--json", "-n", str(args.sessions + 1)]),
            ("sessions search zanzibar (FTS5)", ["sessions", "search", "zanzibar"]),
            ("sessions search terraform (many hits)", ["sessions", "search", "terraform"]),
            ("sessions show <short id> --json (10 turns)", ["sessions", "show", "--json", "ZZ"]),
            (f"sessions show <fragment>, {args.big} items", ["sessions", "show", big_id[-10:]]),
            (f"sessions show --json, {args.big} items", ["sessions", "show", "--json", big_id]),
            (f"sessions export -f json, {args.big} items", ["sessions", "export", "-f", "json", big_id]),
        ]
        small = asyncio.run(_any_small(db, big_id))
        for name, cmd in cases:
            cmd = [small[-8:] if part == "ZZ" else part for part in cmd]
            row(name, measure([py, chat, *cmd], env, args.runs), base)


async def _any_small(db: Path, big_id: str) -> str:
    os.environ["SESSION_DB_PATH"] = str(db)
    store = open_store(load_settings(None))
    await store.open()
    try:
        return next(s.session_id for s in await store.list_sessions(5) if s.session_id != big_id)
    finally:
        await store.close()


if __name__ == "__main__":
    main()
