"""compose.yaml's `team` profile: a pinned Postgres on loopback for LiteLLM and kaiwa — and its init script run
for real against a server set up as the image sets it up (superuser `litellm`, database `litellm`)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from typing import Any

import pytest

from kaiwa.store.base import TurnRecord
from kaiwa.store.postgres import PostgresStore
from tests.harness.postgres import PostgresServer
from tests.harness.proxy import REPO, load_yaml

INIT_SCRIPT = REPO / "team" / "init-kaiwa-db.sh"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(load_yaml(REPO / "compose.yaml"))


def test_team_postgres_is_pinned_private_and_checked(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]
    assert pg["profiles"] == ["team"]
    assert re.fullmatch(r"postgres:\d+\.\d+(-[a-z]+)?", pg["image"]), pg["image"]  # a minor version, never latest
    assert pg["ports"] == ["127.0.0.1:5432:5432"]
    volume = pg["volumes"][0].split(":")
    assert volume[0] in compose["volumes"] and volume[1] == "/var/lib/postgresql"
    assert "./team/init-kaiwa-db.sh:/docker-entrypoint-initdb.d/10-init-kaiwa-db.sh:ro" in pg["volumes"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert pg["env_file"] == ".env.team" and "POSTGRES_PASSWORD" not in pg.get("environment", {})


def test_the_proxy_waits_for_the_team_database_only_in_the_team_profile(compose: dict[str, Any]) -> None:
    dep = compose["services"]["litellm"]["depends_on"]["postgres"]
    assert dep == {"condition": "service_healthy", "required": False}
    assert "profiles" not in compose["services"]["litellm"]


def test_env_team_example_names_both_passwords() -> None:
    text = (REPO / ".env.team.example").read_text()
    assert re.search(r"^POSTGRES_PASSWORD=", text, re.M) and re.search(r"^KAIWA_DB_PASSWORD=", text, re.M)
    assert "DATABASE_URL=postgresql://litellm:" in text


def test_init_script_gives_kaiwa_its_own_database() -> None:
    with PostgresServer.start(role="litellm", database="litellm") as server:
        env = {**server.client_env(), "POSTGRES_USER": "litellm", "POSTGRES_DB": "litellm"}
        env["KAIWA_DB_PASSWORD"] = "kaiwa-team-pw-123"
        done = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        missing = subprocess.run(
            ["sh", str(INIT_SCRIPT)], env={**env, "KAIWA_DB_PASSWORD": ""}, capture_output=True, text=True
        )
        assert missing.returncode != 0 and "KAIWA_DB_PASSWORD" in missing.stderr

        async def as_member() -> int:
            store = PostgresStore(server.url_for("kaiwa", role="kaiwa", password="kaiwa-team-pw-123"))
            await store.open()  # creates kaiwa's tables as the `kaiwa` role (owner of its database)
            try:
                sid = "0199c000-0000-7000-8000-000000000001"
                await store.commit_turn(sid, [{"role": "user", "content": "hi"}], TurnRecord(model="m"), title="hi")
                return len(await store.items(sid))
            finally:
                await store.close()

        assert asyncio.run(as_member()) == 1

        async def litellm_db_as_member() -> None:
            store = PostgresStore(server.url_for("litellm", role="kaiwa", password="kaiwa-team-pw-123"))
            try:
                await store.open()
            finally:
                await store.close()

        from kaiwa.errors import KaiwaError

        with pytest.raises(KaiwaError) as err:  # the member's role cannot reach LiteLLM's keys and spend
            asyncio.run(litellm_db_as_member())
        assert "may not connect to the Postgres database 'litellm'" in err.value.line()
