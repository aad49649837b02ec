"""The Responses controls a model may not take (`--verbosity`, `--service-tier`): the proxy is asked once per model
what it can pass on, and a control the model does not take is left out of the request with one dim notice, said
once per model. A proxy that cannot say gets them as asked (its `drop_params` then drops what it must)."""

from __future__ import annotations

import asyncio
import dataclasses

from ..gateway.proxy_info import supported_params
from .events import Emit, Notice
from .options import TurnOptions

# TurnOptions field, the parameter's name in LiteLLM's list, how the user names it
CONTROLS = (("verbosity", "verbosity", "verbosity"), ("service_tier", "service_tier", "service tier"))


class ControlFitter:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self._params: dict[str, frozenset[str] | None] = {}
        self._told: set[tuple[str, str]] = set()

    async def fit(self, options: TurnOptions, emit: Emit) -> TurnOptions:
        """`options` without the controls its model does not take."""
        asked = [(name, param, label) for name, param, label in CONTROLS if getattr(options, name)]
        if not asked:
            return options
        model = options.model
        if model not in self._params:
            self._params[model] = await asyncio.to_thread(supported_params, self.base_url, self.api_key, model)
        params = self._params[model]
        if params is None:
            return options
        dropped: dict[str, None] = {}
        for name, param, label in asked:
            if param in params:
                continue
            dropped[name] = None
            if (model, name) not in self._told:
                self._told.add((model, name))
                emit(Notice(f"{label} {getattr(options, name)} not sent: {model} does not take it (so says the proxy)"))
        return dataclasses.replace(options, **dropped) if dropped else options  # type: ignore[arg-type]
