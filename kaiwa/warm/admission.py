"""Whether the warm process may serve a call: the same code and interpreter (else it is stale and retires);
the same namespaces, root, ids and limits, interpreter options and start-up settings, the same values of what
its imports read from the environment, and room for one more call (else that call runs cold)."""

from __future__ import annotations

import os
from typing import Any

from .stamp import code_stamp, context, flags, interpreter, startup_env

MAX_CALLS = 16  # more at once run cold (KAIWA_WARM_MAX_CALLS)
IDLE_MINUTES = 30.0  # KAIWA_WARM_IDLE_MINUTES


class Admission:
    def __init__(self) -> None:
        self.code = code_stamp()  # before the imports: an edit during them shows as a mismatch
        self.interpreter = interpreter()
        self.flags = flags()
        self.context = context()
        self.startup = startup_env(dict(os.environ))
        self.import_env: dict[str, str | None] = {}  # filled once the imports are done
        self.idle = 60 * _number("KAIWA_WARM_IDLE_MINUTES", IDLE_MINUTES)
        self.max_calls = max(1, int(_number("KAIWA_WARM_MAX_CALLS", MAX_CALLS)))

    def stale(self, request: dict[str, Any]) -> bool:
        return request.get("code") != self.code or request.get("interpreter") != self.interpreter

    def refusal(self, request: dict[str, Any], fds: int, running: int) -> tuple[str, bool] | None:
        """Why this call runs cold (the warm process stays), and whether a warm process of the call's own import-
        time environment could serve it (one started by that call has its namespaces, limits, settings); None:
        serve it."""
        env = request.get("env") or {}
        if request.get("flags") != self.flags:  # a warm process starts without them: cold, always
            return "the call's interpreter options (-X, -W, -O, …) differ from the warm process's", False
        if request.get("context") != self.context:
            return "the call runs in another namespace or root, as other ids or groups, or under other limits", True
        if startup_env(env) != self.startup:
            return "the call's PYTHON*/LANG/LC_* settings differ from the warm process's", True
        for key, value in self.import_env.items():
            if env.get(key) != value:
                return f"{key} differs from the warm process's (read when kaiwa's libraries load)", True
        if fds not in (3, 4):
            return "the call's file descriptors did not arrive", False
        if running >= self.max_calls:
            return f"{self.max_calls} calls already running", False
        return None


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value >= 0 else default
