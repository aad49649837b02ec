"""Settings from the process environment and `.env.app` (the process environment wins)."""

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


def _env(env_file: Path | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


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
    env = _env(env_file)
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
    )
