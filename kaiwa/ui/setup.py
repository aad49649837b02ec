"""`chat.py setup`: the proxy's URL and key (or kaiwa's own local gateway), checked against the proxy's `/v1/models`,
a default model picked from the aliases it offers, written to ~/.config/kaiwa/.env.app. On a terminal it asks
(prompt_toolkit); with flags, or without a terminal, it asks nothing (for scripts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from .. import values
from ..errors import KaiwaError, UsageError
from ..gateway.proxy_info import model_ids
from ..redact import mask_url
from ..settings import DEFAULT_MODEL, load_settings, setting_source, update_user_env
from ..words import program

Ask = Callable[[str, bool], str]  # (question, hidden) -> the answer; EOFError/KeyboardInterrupt: cancelled


@dataclass(frozen=True)
class Given:
    url: str | None
    key: str | None
    model: str | None
    local: bool


def ask_on_terminal(question: str, hidden: bool) -> str:
    from prompt_toolkit import prompt

    return prompt(question, is_password=hidden).strip()


def _aliases(url: str, key: str | None, ask: Ask | None, out: Console) -> tuple[list[str], str | None]:
    """The proxy's aliases and the key that opened them; asks again for a refused key on a terminal."""
    while True:
        answer = model_ids(url, key)
        if isinstance(answer, list):
            return answer, key
        if answer in (401, 403) and ask is not None:
            out.print(f"the proxy at {mask_url(url)} refused that key (HTTP {answer}); try again", markup=False)
            key = values.api_key(ask("API key (not shown): ", True), "the key")
            continue
        if answer in (401, 403):
            raise KaiwaError(
                f"the proxy at {mask_url(url)} refused the key (HTTP {answer} to /v1/models)",
                "check --key (or LITELLM_API_KEY); nothing was written",
            )
        what = "nothing answers there" if answer is None else f"HTTP {answer} to /v1/models"
        raise KaiwaError(
            f"cannot use the proxy at {mask_url(url)}: {what}",
            "check the URL and that the proxy runs; nothing was written",
        )


def _pick_model(wanted: str | None, current: str, aliases: list[str], ask: Ask | None) -> str:
    if wanted is not None:
        if wanted not in aliases:
            raise UsageError(
                f"the proxy does not offer the model {wanted!r}", f"pick one of: {', '.join(aliases[:12])}"
            )
        return wanted
    for candidate in (current, DEFAULT_MODEL):
        if candidate in aliases:
            return candidate
    if not aliases:
        raise KaiwaError("the proxy offers no models", "add models to its config; nothing was written")
    if ask is None:
        return aliases[0]
    listing = ", ".join(aliases[:20])
    while True:
        picked = ask(f"Default model ({listing}) [{aliases[0]}]: ", False) or aliases[0]
        if picked in aliases:
            return picked


def run_setup(given: Given, ask: Ask | None, out: Console) -> None:
    """The whole set-up; `ask` None: no questions (flags, or no terminal). Raises KaiwaError for one line."""
    settings = load_settings()
    url, key, local = given.url, given.key, given.local
    if ask is not None and url is None and not local:
        url = ask("Proxy URL, e.g. http://localhost:4000/v1 (empty: kaiwa's own local gateway): ", False) or None
        local = url is None
    if local:
        target = update_user_env(
            {"LITELLM_BASE_URL": None, "LITELLM_API_KEY": None, "LITELLM_MODEL": given.model or "local"}
        )
        out.print(f"wrote {target}: the local gateway, model {given.model or 'local'}", markup=False)
        out.print("kaiwa starts the local gateway on the first turn (the first time takes minutes)", markup=False)
        _overridden(["LITELLM_BASE_URL", "LITELLM_MODEL"], str(target), out)
        return
    if url is None:
        raise UsageError(
            "setup without a terminal needs --url (or --local)", f"e.g. {program()} setup --url URL --key KEY"
        )
    url = values.base_url(url, "--url")
    if key is None:
        key = ask("API key (not shown): ", True) if ask is not None else (settings.api_key or "")
    aliases, key = _aliases(url, values.api_key(key, "--key"), ask, out)
    model = _pick_model(given.model, settings.model, aliases, ask)
    target = update_user_env({"LITELLM_BASE_URL": url, "LITELLM_API_KEY": key, "LITELLM_MODEL": model})
    out.print(f"the proxy at {mask_url(url)} answers and offers {len(aliases)} models", markup=False)
    out.print(f"wrote {target}: LITELLM_BASE_URL, LITELLM_API_KEY (not shown), LITELLM_MODEL={model}", markup=False)
    _overridden(["LITELLM_BASE_URL", "LITELLM_API_KEY", "LITELLM_MODEL"], str(target), out)


def _overridden(names: list[str], target: str, out: Console) -> None:
    """The environment and ./.env.app win over the user's file: say so, or the next turn surprises."""
    for name in names:
        source = setting_source(name)
        if source is not None and source != target:
            out.print(f"note: {name} in {source} wins over {target}", markup=False)
