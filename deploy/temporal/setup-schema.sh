#!/bin/sh
# One-shot (service temporal-schema, image temporalio/admin-tools): brings
# Temporal's two databases to the schema of the server image's version.
# Safe to run again: setup-schema -v 0.0 keeps an existing schema and
# update-schema applies only the versions not applied yet. The databases
# themselves are created by deploy/postgres-init/ (role temporal owns them).
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is not set}"
: "${POSTGRES_USER:?POSTGRES_USER is not set}"
: "${SQL_PASSWORD:?SQL_PASSWORD is not set}"
SCHEMA=/etc/temporal/schema/postgresql/v12

for db in temporal:temporal temporal_visibility:visibility; do
	name=${db%%:*}
	dir=${db#*:}
	echo "temporal-schema: $name"
	temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" \
		--db "$name" setup-schema -v 0.0
	temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" \
		--db "$name" update-schema -d "$SCHEMA/$dir/versioned"
done
echo "temporal-schema: done"
