#!/bin/sh
# One-shot (docker-compose.yml service temporal-schema, image temporalio/admin-tools): creates Temporal's two
# PostgreSQL databases and brings their schemas up to the version the server image needs. Safe to run again on an
# existing database: "create" may report that the database exists, and update-schema only applies missing versions.
# Uses the admin-tools image's own variables: DB_PORT, POSTGRES_SEEDS, POSTGRES_USER, SQL_PASSWORD.
set -eu
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
PORT="${DB_PORT:-5432}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

echo "temporal-schema: waiting for PostgreSQL at ${POSTGRES_SEEDS}:${PORT}"
i=0
until nc -z -w 5 "$POSTGRES_SEEDS" "$PORT"; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || { echo "temporal-schema: PostgreSQL did not come up" >&2; exit 1; }
  sleep 2
done

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir="$SCHEMA_ROOT/temporal/versioned" ;;
    *) dir="$SCHEMA_ROOT/visibility/versioned" ;;
  esac
  tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" --db "$db" "$@"; }
  tool create || echo "temporal-schema: database $db not created (it probably exists already); continuing"
  tool setup-schema -v 0.0
  tool update-schema -d "$dir"
  echo "temporal-schema: $db is up to date"
done
