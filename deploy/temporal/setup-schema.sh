#!/bin/sh
# One-shot (temporalio/admin-tools): bring Temporal's schema in both databases to the image's version.
# The databases themselves are created by deploy/postgres/10-engram-init.sh. Safe to re-run: setup-schema
# -v 0.0 only initialises version tracking, update-schema applies what is missing.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"
}

sql_tool --db "${DBNAME:-temporal}" setup-schema -v 0.0
sql_tool --db "${DBNAME:-temporal}" update-schema -d "$SCHEMA/temporal/versioned"
sql_tool --db "${VISIBILITY_DBNAME:-temporal_visibility}" setup-schema -v 0.0
sql_tool --db "${VISIBILITY_DBNAME:-temporal_visibility}" update-schema -d "$SCHEMA/visibility/versioned"
echo "temporal schema ready"
