"""Settings from the process environment, then `.env.app` in the current folder, then
`~/.config/kaiwa/.env.app` (the first that sets a variable wins).

A folder's `.env.app` comes with the folder (a cloned repository ships one), so until you trust that folder
(`kaiwa/trust.py`) it may set only what cannot send your key, prompts or conversations elsewhere nor start a
process: `HARMLESS`. What it set beyond that is left out, and `Settings.untrusted` says so in one line."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from . import dirs, trust, values
from .errors import UsageError
from .values import REASONING_EFFORTS

__all__ = [
    "DEFAULT_BASE_URL",
    "DB_NAME",
    "DEFAULT_MODEL",
    "REASONING_EFFORTS",
    "SERVICE_TIERS",
    "VERBOSITY_LEVELS",
    "Settings",
    "check_choice",
    "check_cost",
    "check_max_output_tokens",
    "check_temperature",
    "load_settings",
]

DEFAULT_BASE_URL = "http://localhost:4000/v1"
DEFAULT_MODEL = "bedrock-claude-3-5-sonnet"
DB_NAME = "sessions.sqlite3"  # in the data folder (kaiwa/dirs.py), unless SESSION_DB_PATH names another file
VERBOSITY_LEVELS = ("low", "medium", "high")
SERVICE_TIERS = ("auto", "default", "flex", "priority")  # the Responses API's service_tier values
# What an untrusted folder's .env.app may still set: choices about the answer, paid at the proxy you chose and shown
# on every usage line. Everything else waits for `chat.py trust`: LITELLM_BASE_URL and LITELLM_API_KEY (where your
# prompts go, and whose account they are logged under), SESSION_DB_PATH/URL (where conversations are written),
# KAIWA_MCP_CONFIG (what runs), KAIWA_SYSTEM (what the model is told), KAIWA_MAX_COST_* (a folder must not lift
# your caps), and whatever is added later.
HARMLESS = frozenset({
    "LITELLM_MODEL", "KAIWA_REASONING", "KAIWA_TEMPERATURE", "KAIWA_MAX_OUTPUT_TOKENS", "KAIWA_TIMEOUT",
    "KAIWA_MAX_RETRIES", "KAIWA_LOCK_TIMEOUT", "KAIWA_PROMPT_CACHE",
})  # fmt: skip
OURS = ("LITELLM_", "KAIWA_", "SESSION_")  # the names a left-out setting is said by
_SWITCH = {"1": True, "true": True, "on": True, "yes": True, "0": False, "false": False, "off": False, "no": False}
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 1
DEFAULT_STREAM_RETRIES = 2
DEFAULT_STREAM_IDLE_TIMEOUT = 90.0


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
    prompt_cache: bool = True  # KAIWA_PROMPT_CACHE=0: kaiwa's part of prompt caching off (prompt_cache_key)
    max_cost_session: float | None = None  # KAIWA_MAX_COST_SESSION: dollars a session may spend (core/budget.py)
    max_cost_day: float | None = None  # KAIWA_MAX_COST_DAY: dollars per local calendar day
    max_cost_month: float | None = None  # KAIWA_MAX_COST_MONTH: dollars per local calendar month
    db_path_default: bool = False  # db_path is the data folder's file (SESSION_DB_PATH unset)
    stream_retries: int = DEFAULT_STREAM_RETRIES  # KAIWA_STREAM_RETRIES: a stream that breaks off is tried again
    stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT  # KAIWA_STREAM_IDLE_TIMEOUT: no event this long cuts it
    untrusted: str | None = None  # the line saying what untrusted folders set that was left out (None: nothing)


def user_config_dir() -> Path:
    raw = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(os.path.expanduser(raw)) if raw else Path.home() / ".config") / "kaiwa"


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a `.env` file sets (`NAME` without `=` left out); an unreadable file is one line naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}", f"fix or remove {path}") from None
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UsageError(
            f"{path} is not valid UTF-8 (byte 0x{data[error.start]:02x} on line {line})", f"save {path} as UTF-8"
        ) from None
    return {k: v for k, v in dotenv_values(stream=io.StringIO(content)).items() if v is not None}


def _env(env_file: Path | None) -> tuple[dict[str, str], list[trust.Ignored]]:
    """The settings the environment and the files give, and what untrusted folders set that was left out."""
    if env_file is None:
        return dict(os.environ), []
    here = trust.current_folder()
    user_file = user_config_dir() / ".env.app"
    merged = read_env_file(user_file) if user_file.is_file() else {}
    folder_file = here / env_file
    ignored: dict[str, trust.Ignored] = {}
    folder = read_env_file(folder_file) if folder_file.is_file() else {}
    gated = [name for name in folder if name not in HARMLESS and name.startswith(OURS)]
    # .env.litellm and the Vertex key are the local gateway's: said only when it may be the one that answers
    gateway = not (os.environ.get("LITELLM_BASE_URL", "").strip() or merged.get("LITELLM_BASE_URL", "").strip())
    gateway_files = [n for n in trust.FOLDER_FILES[1:] if gateway and (folder_file.parent / n).is_file()]
    if gated or gateway_files:
        state = trust.state(folder_file.parent)
        if state not in ("own", "trusted"):
            folder = {k: v for k, v in folder.items() if k in HARMLESS}
            what = ([f"{', '.join(gated)} from {env_file}"] if gated else []) + [f"./{n}" for n in gateway_files]
            ignored[trust.real(folder_file.parent)] = trust.Ignored(folder_file.parent, state, tuple(what))
    merged.update(folder)
    merged.update(os.environ)
    _project_roles(here, ignored)
    return merged, list(ignored.values())


def _project_roles(here: Path, ignored: dict[str, trust.Ignored]) -> None:
    """The project's roles (`.kaiwa/roles/` here or above) are left out of an untrusted project: say so too."""
    root = trust.project_root(here)
    roles = trust.role_files_in(root) if root is not None else []
    if root is None or not roles:
        return
    state = trust.state(root)
    if state in ("own", "trusted"):
        return
    names = ", ".join(p.name.removesuffix(".md") for p in roles[:5]) + (", …" if len(roles) > 5 else "")
    where = trust.ROLES if root == here else Path(os.path.relpath(root, here)) / trust.ROLES
    what = f"the roles in {where}/ ({names})"
    before = ignored.get(trust.real(root))
    ignored[trust.real(root)] = trust.Ignored(root, state, (*(before.what if before else ()), what))


def untrusted_notice() -> str | None:
    """The line about what untrusted folders set that was left out, without reading the settings themselves."""
    return trust.notice(_env(Path(".env.app"))[1])


def _text(env: dict[str, str], name: str) -> str:
    return values.text(env.get(name, ""), name).strip()


def _optional(env: dict[str, str], name: str, check: values.Number) -> float | None:
    raw = _text(env, name)
    return check.check(raw, name) if raw else None


def _number(env: dict[str, str], name: str, check: values.Number, default: float) -> float:
    value = _optional(env, name, check)
    return default if value is None else value


def load_settings(env_file: Path | None = Path(".env.app")) -> Settings:
    """`env_file` None: the process environment only (tests). Every value is checked as its flag is."""
    env, ignored = _env(env_file)
    base_url = _text(env, "LITELLM_BASE_URL")
    reasoning = _text(env, "KAIWA_REASONING")
    mcp = _text(env, "KAIWA_MCP_CONFIG")
    db_path = _text(env, "SESSION_DB_PATH")
    tokens = _optional(env, "KAIWA_MAX_OUTPUT_TOKENS", values.MAX_OUTPUT_TOKENS)
    return Settings(
        base_url=values.base_url(base_url) if base_url else DEFAULT_BASE_URL,
        base_url_from_user=bool(base_url),
        api_key=values.api_key(env.get("LITELLM_API_KEY", "")),
        model=_text(env, "LITELLM_MODEL") or DEFAULT_MODEL,
        db_path=Path(os.path.expanduser(db_path)) if db_path else Path(dirs.data_dir()) / DB_NAME,
        db_path_default=not db_path,
        reasoning=values.reasoning(reasoning, "KAIWA_REASONING") if reasoning else None,
        timeout=_number(env, "KAIWA_TIMEOUT", values.TIMEOUT, DEFAULT_TIMEOUT),
        max_retries=int(_number(env, "KAIWA_MAX_RETRIES", values.MAX_RETRIES, DEFAULT_MAX_RETRIES)),
        mcp_config=Path(os.path.expanduser(mcp)) if mcp else None,
        db_url=_text(env, "SESSION_DB_URL") or None,
        system=_text(env, "KAIWA_SYSTEM") or None,
        temperature=_optional(env, "KAIWA_TEMPERATURE", values.TEMPERATURE),
        lock_timeout=_optional(env, "KAIWA_LOCK_TIMEOUT", values.LOCK_TIMEOUT),
        max_output_tokens=int(tokens) if tokens is not None else None,
        prompt_cache=_switch(env, "KAIWA_PROMPT_CACHE", default=True),
        max_cost_session=_optional(env, "KAIWA_MAX_COST_SESSION", values.COST),
        max_cost_day=_optional(env, "KAIWA_MAX_COST_DAY", values.COST),
        max_cost_month=_optional(env, "KAIWA_MAX_COST_MONTH", values.COST),
        stream_retries=int(_number(env, "KAIWA_STREAM_RETRIES", values.STREAM_RETRIES, DEFAULT_STREAM_RETRIES)),
        stream_idle_timeout=_number(
            env, "KAIWA_STREAM_IDLE_TIMEOUT", values.STREAM_IDLE_TIMEOUT, DEFAULT_STREAM_IDLE_TIMEOUT
        ),
        untrusted=trust.notice(ignored),
    )


def _switch(env: dict[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name)
    return _SWITCH[values.choice(raw, tuple(_SWITCH), name)] if raw else default


# The rules a value must follow wherever it comes from (a flag, a setting, a role file): `name` is how the user
# wrote it. They are kaiwa/values.py's, so a role's `temperature:` and KAIWA_TEMPERATURE follow --temperature's.
def check_temperature(value: float, name: str = "--temperature") -> None:
    values.TEMPERATURE.check(value, name)


def check_max_output_tokens(value: float, name: str = "--max-output-tokens") -> None:
    values.MAX_OUTPUT_TOKENS.check(value, name)


def check_cost(value: float, name: str) -> None:
    values.COST.check(value, name)


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    """`value` lower-cased if it is one of `choices`."""
    return values.choice(value, choices, name)


def setting_source(name: str, env_file: Path = Path(".env.app")) -> str | None:
    """Where load_settings found `name`: "the environment", the `.env.app` file that sets it, or None (unset).
    Said by `status`; the value itself is never shown here."""
    if name in os.environ:  # set in the environment, even empty, it wins over the files (as in _env)
        return "the environment" if os.environ[name].strip() else None
    for path in (env_file, user_config_dir() / ".env.app"):
        if path.is_file() and read_env_file(path).get(name, "").strip():
            return str(path.resolve())
    return None


def update_user_env(changes: dict[str, str | None]) -> Path:
    """Set (or, with None, remove) variables in ~/.config/kaiwa/.env.app, keeping its other lines. The file is
    written whole to a temporary file beside it and renamed over it (0600, never through a link: a link there is
    replaced, not followed), so a failure leaves the old file as it was."""
    from .dirs import make_private_dir

    folder = user_config_dir()
    make_private_dir(str(folder))
    target = folder / ".env.app"
    kept: list[str] = []
    if target.is_file() and not target.is_symlink():
        for line in target.read_text(encoding="utf-8").splitlines():
            name = line.split("=", 1)[0].strip().removeprefix("export ").strip()
            if name not in changes:
                kept.append(line)
    for name, value in changes.items():
        if value is None:
            continue
        if any(c in value for c in "\n\r'\"\\") or not value.isprintable():
            raise UsageError(f"the value for {name} holds a quote, a backslash or a line break", "check what you typed")
        kept.append(f"{name}='{value}'")
    tmp = folder / f".env.app.tmp{os.getpid()}"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(kept) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
