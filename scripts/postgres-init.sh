#!/bin/sh
# Postgres' first start (docker-entrypoint-initdb.d): the runtime role the web, worker and beat
# connect as. It owns nothing; `manage.py grant_runtime_role portal` (the migrate service)
# gives it read and write on the portal's tables and only INSERT and SELECT on the audit trail.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE portal LOGIN PASSWORD '${PORTAL_DB_PASSWORD}';
GRANT CONNECT ON DATABASE ${POSTGRES_DB} TO portal;
SQL
