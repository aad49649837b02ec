"""The choices an editor offers for a session: the model (the proxy's aliases), reasoning and the role, as ACP
session config options; the role also as the session's mode, for clients that show modes but not options.
Each applies from the next turn on, as the REPL's /model, /reasoning and /role do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acp import schema as s

from ...errors import UsageError
from ...settings import REASONING_EFFORTS

if TYPE_CHECKING:
    from ...core.protocol import Conversation

ConfigOption = s.SessionConfigOptionSelect | s.SessionConfigOptionBoolean
NO_ROLE = "none"
OFF = "off"


def role_names() -> list[str]:
    from ...roles import role_files

    return list(role_files())


def _select(option_id: str, name: str, current: str, values: list[str], category: str) -> s.SessionConfigOptionSelect:
    shown = values if current in values else [current, *values]
    return s.SessionConfigOptionSelect(
        type="select",
        id=option_id,
        name=name,
        current_value=current,
        category=category,  # type: ignore[arg-type]
        options=[s.SessionConfigSelectOption(value=value, name=value) for value in shown],
    )


def config_options(conversation: Conversation, aliases: list[str]) -> list[ConfigOption]:
    role = conversation.role.name if conversation.role is not None else NO_ROLE
    return [
        _select("model", "Model", conversation.model, aliases, "model"),
        _select("reasoning", "Reasoning", conversation.options.reasoning or OFF, [OFF, *REASONING_EFFORTS],
                "thought_level"),
        _select("role", "Role", role, [NO_ROLE, *role_names()], "mode"),
    ]  # fmt: skip


def modes(conversation: Conversation) -> s.SessionModeState:
    role = conversation.role.name if conversation.role is not None else NO_ROLE
    names = [NO_ROLE, *role_names()]
    if role not in names:
        names.append(role)
    return s.SessionModeState(
        current_mode_id=role,
        available_modes=[s.SessionMode(id=name, name="no role" if name == NO_ROLE else name) for name in names],
    )


async def apply(conversation: Conversation, option: str, value: str, aliases: list[str]) -> None:
    """One choice, from the next turn on; a bad one is one line (UsageError)."""
    if option == "model":
        if aliases and value not in aliases:
            raise UsageError(f"the proxy offers no model {value!r}", f"pick one of {', '.join(aliases)}")
        conversation.set_model(value)
    elif option == "reasoning":
        conversation.set_reasoning(None if value == OFF else value)
    elif option == "role":
        from ...roles import load_role

        await conversation.use_role(None if value == NO_ROLE else load_role(value))
        await conversation.save_role()
    else:
        raise UsageError(f"kaiwa has no option {option!r}", "its options are model, reasoning and role")
