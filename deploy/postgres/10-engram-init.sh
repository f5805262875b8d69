#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d).
# One server, separate roles and databases: `engram` for the app (pgvector created here, by the
# superuser, so the app role needs no superuser rights) and `temporal` for Temporal's two databases.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v engram_pw="${ENGRAM_DB_PASSWORD:?}" -v temporal_pw="${TEMPORAL_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE engram LOGIN PASSWORD :'engram_pw';
CREATE ROLE temporal LOGIN PASSWORD :'temporal_pw';
CREATE DATABASE engram OWNER engram;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
\connect engram
CREATE EXTENSION IF NOT EXISTS vector;
SQL
