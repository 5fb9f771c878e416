#!/bin/sh
# Run once by the postgres image's entrypoint, on the first start with an
# empty data volume (files in /docker-entrypoint-initdb.d/ are ignored once
# the database exists: to change a password later, ALTER ROLE by hand).
#
# One PostgreSQL, two tenants that cannot touch each other's data:
#   temporal  LOGIN CREATEDB, owner of the databases "temporal" and
#             "temporal_visibility", whose schema the one-shot temporal-schema
#             (temporal-sql-tool) sets up and upgrades with this role.
#   windflow  LOGIN, owner of the database "windflow", which `windflow migrate`
#             fills (goose migrations embedded in the binary).
# The superuser "postgres" is for administration only.
#
# Passwords come from the container's environment (docker-compose.temporal.yml
# passes TEMPORAL_DB_PASSWORD and WINDFLOW_DB_PASSWORD) and reach SQL as psql
# variables (:'name' quotes them), never pasted into the SQL text.
#
# The entrypoint sources this file when it is not executable, so it changes no
# shell options; a failing psql (ON_ERROR_STOP) fails the initialisation.

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
	-v temporal_password="${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set}" \
	-v windflow_password="${WINDFLOW_DB_PASSWORD:?WINDFLOW_DB_PASSWORD is not set}" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE windflow LOGIN PASSWORD :'windflow_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE DATABASE windflow OWNER windflow;
REVOKE ALL ON DATABASE windflow FROM PUBLIC;
SQL
