#!/usr/bin/env bash
# Runs once when the PostgreSQL container first starts (docker-entrypoint-initdb.d). For every service: a database
# owned by an owner role (migrations) and an application role that neither owns the tables nor bypasses RLS.
# Mirrors servicekit/pgroles.py, which the tests and the local SaaS launcher use.
set -euo pipefail
for service in identity measurements reports notifications; do
  owner="vo2_${service}_owner"; app="vo2_${service}_app"; db="vo2_${service}"
  owner_pw_var="$(echo "${service}" | tr a-z A-Z)_OWNER_PASSWORD"; app_pw_var="$(echo "${service}" | tr a-z A-Z)_APP_PASSWORD"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE ${owner} LOGIN PASSWORD '${!owner_pw_var}' NOSUPERUSER NOBYPASSRLS NOCREATEDB;
CREATE ROLE ${app} LOGIN PASSWORD '${!app_pw_var}' NOSUPERUSER NOBYPASSRLS NOCREATEDB;
CREATE DATABASE ${db} OWNER ${owner};
REVOKE ALL ON DATABASE ${db} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${app};
SQL
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" <<SQL
GRANT USAGE ON SCHEMA public TO ${app};
ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO ${app};
ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${app};
SQL
done
