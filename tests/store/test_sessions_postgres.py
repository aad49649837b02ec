"""The same `sessions` commands on Postgres (SESSION_DB_URL, a REAL server): a session exported from SQLite is
imported into Postgres and resumed there with the upstream receiving the full original history; list, show,
search, rename, fork and delete through the same interface."""

from __future__ import annotations

import json

from tests.conftest import Kaiwa
from tests.standins.openai_compat import OpenAIChatStandIn
from tests.standins.script import Reply, ToolCall


def test_sqlite_export_imports_and_resumes_on_postgres(kaiwa: Kaiwa, upstream: OpenAIChatStandIn, pg_url: str) -> None:
    upstream.script(
        Reply(text="", thinking="Exact, please.", tool_calls=[ToolCall("calculate", {"expression": "3**40"}, "c_pow")]),
        Reply(text="3**40 is 12157665459056928801."),
    )
    sid = kaiwa("--input", "3**40 about zanzibar", "--reasoning", "low").session_id  # on SQLite
    assert sid
    fork = kaiwa("sessions", "fork", sid).session_id
    assert fork
    upstream.script(Reply(text="baseline"))
    assert kaiwa("--input", "and 3**41?", "--session-id", fork).code == 0
    baseline = upstream.model_requests()[-1].body["messages"]
    assert kaiwa("sessions", "export", sid, "-f", "json", "-o", "s.json").code == 0

    pg = {"SESSION_DB_URL": pg_url}
    assert json.loads(kaiwa("sessions", "list", "--json", **pg).out) == []
    imported = kaiwa("sessions", "import", "s.json", **pg)
    assert imported.code == 0 and imported.session_id == sid, imported.err
    upstream.script(Reply(text="3**41 is 36472996377170786403."))
    resumed = kaiwa("--input", "and 3**41?", "--session-id", sid[-8:], **pg)
    assert resumed.code == 0 and resumed.out == "3**41 is 36472996377170786403.\n", resumed.err
    assert upstream.model_requests()[-1].body["messages"] == baseline
    assert upstream.rejections == []

    [listed] = json.loads(kaiwa("sessions", "--json", **pg).out)
    assert listed["id"] == sid and listed["turns"] == 2
    shown = json.loads(kaiwa("sessions", "show", sid[-8:], "--json", **pg).out)
    assert [m["role"] for m in shown["messages"]] == ["user", "tool", "assistant", "user", "assistant"]
    hits = json.loads(kaiwa("sessions", "search", "zanzibar", "--json", **pg).out)
    assert [h["id"] for h in hits] == [sid]
    assert kaiwa("sessions", "rename", sid[-8:], "powers of three", **pg).code == 0
    copy = kaiwa("sessions", "fork", sid[-8:], "--json", **pg)
    assert copy.code == 0 and json.loads(copy.out)["origin"] == f"fork of {sid}"
    titles = [s["title"] for s in json.loads(kaiwa("sessions", "list", "--json", **pg).out)]
    assert titles == ["powers of three", "powers of three"]
    assert kaiwa("sessions", "delete", sid, json.loads(copy.out)["id"], "--yes", **pg).code == 0
    assert json.loads(kaiwa("sessions", "list", "--json", **pg).out) == []
    assert json.loads(kaiwa("sessions", "search", "zanzibar", "--json", **pg).out) == []
    assert json.loads(kaiwa("sessions", "list", "--json").out)[0]["id"] in (sid, fork)  # SQLite untouched
