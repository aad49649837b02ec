"""kaiwa.gateway.proxy_info against the REAL proxy of the test run (shipped config + test aliases)."""

from __future__ import annotations

from typing import Any

import pytest

from kaiwa.gateway.proxy_info import Prices, model_prices, supported_params
from tests.conftest import FAKE_INPUT_PRICE, FAKE_OUTPUT_PRICE
from tests.harness.ports import free_port


def test_prices_are_the_proxys(proxy: Any) -> None:
    prices = model_prices(proxy.base_url, proxy.master_key)
    assert prices is not None
    # the config's own model_info for the test alias…
    assert prices["fake-a"] == Prices(FAKE_INPUT_PRICE, FAKE_INPUT_PRICE, FAKE_INPUT_PRICE, FAKE_OUTPUT_PRICE)
    # …and LiteLLM's model map for a cloud alias: cache reads at 10% of input, writes at 125%
    foundry = prices["azure-foundry-claude"]
    assert (foundry.input, foundry.cache_read, foundry.cache_write) == pytest.approx((3e-6, 3e-7, 3.75e-6))
    assert foundry.saving(1000, 100) == pytest.approx(1000 * 2.7e-6 - 100 * 0.75e-6)


def test_supported_params_per_alias(proxy: Any) -> None:
    claude = supported_params(proxy.base_url, proxy.master_key, "bedrock-claude-sonnet-4-5")
    assert claude is not None and "temperature" in claude and "verbosity" not in claude
    assert supported_params(proxy.base_url, proxy.master_key, "no-such-alias") is None


def test_a_proxy_that_cannot_answer_is_none(proxy: Any) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    assert model_prices(nobody, "k", timeout=1) is None
    assert supported_params(nobody, "k", "fake-a", timeout=1) is None
    assert model_prices(proxy.base_url, "sk-wrong-key") is None  # refused: no prices rather than an error
