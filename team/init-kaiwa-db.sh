#!/bin/sh
# kaiwa's own role and database in the team Postgres (compose.yaml, profile `team`). The postgres image runs this
# once, when its volume is first initialised, as the superuser (POSTGRES_USER) with KAIWA_DB_PASSWORD from
# .env.team. The role owns only its database: it cannot read LiteLLM's keys and spend.
set -eu
: "${KAIWA_DB_PASSWORD:?set KAIWA_DB_PASSWORD in .env.team}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v kaiwa_password="$KAIWA_DB_PASSWORD" <<'SQL'
CREATE ROLE kaiwa LOGIN PASSWORD :'kaiwa_password';
CREATE DATABASE kaiwa OWNER kaiwa;
REVOKE ALL ON DATABASE kaiwa FROM PUBLIC;
REVOKE ALL ON DATABASE litellm FROM PUBLIC;
SQL
