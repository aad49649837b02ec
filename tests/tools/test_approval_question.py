"""The approval question (kaiwa/ui/approval.py): what you approve from must read as it is, whole."""

from __future__ import annotations

import json

from kaiwa.core.events import ApprovalRequested
from kaiwa.tools.arguments import argument_problem, declared_order
from kaiwa.ui.approval import question, waiting, whole_call

ORDER = ("repo_path", "files")


def test_the_question_spells_out_control_and_bidi_characters() -> None:
    # A model (or a prompt injected into it) names an argument with U+202E: shown raw, the rest of the line
    # reads reversed. Control characters and invisible format characters are spelt out, in names as in values.
    arguments = json.dumps({"repo_path": "/tmp/r", "\u202e\x1b[2Jfiles": ["a.txt"]})
    request = ApprovalRequested("c1", "git\u2066", "git_add\u200b", arguments, None)
    line = question(request, width=200)
    assert "\x1b" not in line and "\u202e" not in line and "\u2066" not in line and "\u200b" not in line
    assert line.startswith("allow git\\u2066/git_add\\u200b(repo_path='/tmp/r', '\\u202e\\x1b[2Jfiles'=")
    assert line.endswith("? [y/a/n/v] ")
    assert "\u2066" not in waiting(request) and "\\u2066" in waiting(request)


def test_a_key_that_fakes_the_end_of_the_question_is_shown_quoted_and_spelt_out() -> None:
    # The key ends like the question, then braille blanks (U+2800, a "symbol" that draws nothing) push the real
    # end off the screen: the key is quoted, its blanks spelt out, and the real end stays on the line.
    spoof = "files=['a.txt'])? [y/a/n]" + "\u2800" * 120
    request = ApprovalRequested("c2", "git", "git_add", json.dumps({"repo_path": "/r", "files": ["b.txt"],
                                                                    spoof: 1}), None, ORDER)  # fmt: skip
    shown = question(request, width=120)
    assert "\u2800" not in shown and "\\u2800" in shown
    assert "\"files=['a.txt'])? [y/a/n]\\u2800" in shown  # quoted as a name
    assert 'files=["b.txt"]' in shown.splitlines()[2]  # what runs, on its own line, in the tool's order
    assert shown.endswith("allow it? [y/a/n/v] ")


def test_a_long_argument_is_cut_visibly_and_never_hides_the_others() -> None:
    many = [f"file{i:03}.txt" for i in range(100)]
    request = ApprovalRequested("c3", "git", "git_add", json.dumps({"files": many, "repo_path": "/r"}), None, ORDER)
    rows = question(request, width=80).splitlines()
    assert rows[0] == "allow git/git_add with:"
    assert rows[1] == "  repo_path='/r'"  # required arguments first, in the schema's order
    assert rows[2].startswith('  files=["file000.txt"') and rows[2].endswith(" chars)") and "…(+" in rows[2]
    kept, hidden = rows[2].removeprefix("  files=").rsplit("…(+", 1)
    assert len(rows[2]) <= 80 and len(kept) + int(hidden.split()[0]) == len(json.dumps(many))
    assert '"file099.txt"' in whole_call(request)  # `v`: the whole call
    assert whole_call(request).index('"repo_path"') < whole_call(request).index('"files"')


def test_mcp_arguments_are_checked_against_the_tools_schema() -> None:
    # mcp-server-git's git_add schema: no additionalProperties (JSON Schema would allow others; kaiwa does not).
    schema = {"properties": {"repo_path": {"type": "string"}, "files": {"type": "array", "items": {"type": "string"}}},
              "required": ["repo_path", "files"], "type": "object"}  # fmt: skip
    assert declared_order(schema) == ORDER
    padded = json.dumps({"repo_path": "/r", "files": ["a"], "note1": "x"})
    assert argument_problem("git_add", schema, padded) == (
        "error: git_add has no argument 'note1'; call it as git_add(repo_path: string, files: array)"
    )
    assert argument_problem("git_add", {**schema, "additionalProperties": True}, padded) is None
    assert argument_problem("git_add", schema, json.dumps({"repo_path": "/r", "files": "a"})) is not None
