"""Settings from the process environment, then `.env.app` in the current folder, then
`~/.config/kaiwa/.env.app` (the first that sets a variable wins)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from .errors import UsageError

DEFAULT_BASE_URL = "http://localhost:4000/v1"
DEFAULT_MODEL = "bedrock-claude-3-5-sonnet"
DEFAULT_DB_PATH = "sessions.sqlite3"
REASONING_EFFORTS = ("low", "medium", "high")
VERBOSITY_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Settings:
    base_url: str
    base_url_from_user: bool  # False: the default, so kaiwa may start a local gateway
    api_key: str | None
    model: str
    db_path: Path
    reasoning: str | None
    timeout: float  # seconds without progress before a turn fails
    max_retries: int  # the client's own retries; the proxy's router retries too
    mcp_config: Path | None
    db_url: str | None = None  # SESSION_DB_URL (postgresql://…): wins over db_path
    system: str | None = None  # KAIWA_SYSTEM: instructions for new sessions
    temperature: float | None = None  # KAIWA_TEMPERATURE
    max_output_tokens: int | None = None  # KAIWA_MAX_OUTPUT_TOKENS
    lock_timeout: float | None = None  # KAIWA_LOCK_TIMEOUT: seconds to wait for another turn on the session


def user_config_dir() -> Path:
    raw = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(os.path.expanduser(raw)) if raw else Path.home() / ".config") / "kaiwa"


def _env(env_files: list[Path]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for env_file in reversed(env_files):  # later files are overridden by earlier ones
        if env_file.is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def _optional_number(env: dict[str, str], name: str) -> float | None:
    return _number(env, name, -1.0) if env.get(name, "").strip() else None


def _number(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number", f"set {name} to a number, e.g. {default:g}") from None
    if value < 0:
        raise UsageError(f"{name} must not be negative", f"set {name} to a number, e.g. {default:g}")
    return value


def load_settings(env_file: Path | None = Path(".env.app")) -> Settings:
    """`env_file` None: the process environment only (tests)."""
    env = _env([] if env_file is None else [env_file, user_config_dir() / ".env.app"])
    base_url = env.get("LITELLM_BASE_URL", "").strip()
    reasoning = env.get("KAIWA_REASONING", "").strip().lower() or None
    if reasoning is not None and reasoning not in REASONING_EFFORTS:
        raise UsageError(f"KAIWA_REASONING={reasoning!r} is not one of {', '.join(REASONING_EFFORTS)}")
    mcp = env.get("KAIWA_MCP_CONFIG", "").strip()
    return Settings(
        base_url=base_url.rstrip("/") or DEFAULT_BASE_URL,
        base_url_from_user=bool(base_url),
        api_key=env.get("LITELLM_API_KEY") or None,
        model=env.get("LITELLM_MODEL", "").strip() or DEFAULT_MODEL,
        db_path=Path(os.path.expanduser(env.get("SESSION_DB_PATH", "").strip() or DEFAULT_DB_PATH)),
        reasoning=reasoning,
        timeout=_number(env, "KAIWA_TIMEOUT", 120.0),
        max_retries=int(_number(env, "KAIWA_MAX_RETRIES", 1)),
        mcp_config=Path(os.path.expanduser(mcp)) if mcp else None,
        db_url=env.get("SESSION_DB_URL", "").strip() or None,
        system=env.get("KAIWA_SYSTEM", "").strip() or None,
        temperature=_optional_number(env, "KAIWA_TEMPERATURE"),
        lock_timeout=_optional_number(env, "KAIWA_LOCK_TIMEOUT"),
        max_output_tokens=int(tokens) if (tokens := _optional_number(env, "KAIWA_MAX_OUTPUT_TOKENS")) else None,
    )


# The rules a value must follow wherever it comes from (a flag, a role file): `name` is how the user wrote it.
def check_temperature(value: float, name: str = "--temperature") -> None:
    if not 0 <= value <= 2:
        raise UsageError(f"{name} {value:g} is out of range", "give a number from 0 to 2, e.g. 0.2")


def check_max_output_tokens(value: int, name: str = "--max-output-tokens") -> None:
    if value < 1:
        raise UsageError(f"{name} {value} is too small", "give at least 1, e.g. 2000")


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    """`value` lower-cased if it is one of `choices`."""
    if value.lower() not in choices:
        raise UsageError(f"{name} {value!r} is not one of {', '.join(choices)}")
    return value.lower()
