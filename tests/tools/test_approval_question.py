"""The approval question's line (kaiwa/ui/approval.py): what you approve from must read as it is."""

from __future__ import annotations

import json

from kaiwa.core.events import ApprovalRequested
from kaiwa.ui.approval import question, waiting


def test_the_question_spells_out_control_and_bidi_characters() -> None:
    # A model (or a prompt injected into it) names an argument with U+202E: shown raw, the rest of the line
    # reads reversed. Control characters become visible stand-ins; invisible format characters, their \\u code.
    arguments = json.dumps({"repo_path": "/tmp/r", "\u202e\x1b[2Jfiles": ["a.txt"]})
    request = ApprovalRequested("c1", "git\u2066", "git_add\u200b", arguments, None)
    line = question(request, width=200)
    assert "\x1b" not in line and "\u202e" not in line and "\u2066" not in line and "\u200b" not in line
    assert line.startswith("allow git\\u2066/git_add\\u200b(repo_path='/tmp/r', \\u202e␛[2Jfiles=")
    assert line.endswith("? [y/a/n] ")
    assert "\u2066" not in waiting(request) and "\\u2066" in waiting(request)
