"""PostgreSQL layout for one service: a database owned by an owner role (migrations) and a separate application
role that neither owns the tables nor bypasses RLS. deploy/postgres/init.sh does the same for compose."""
from __future__ import annotations

import psycopg
from psycopg import sql


def provision(admin_dsn: str, database: str, owner: str, app: str, password: str, *, recreate: bool = False) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in (owner, app):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOBYPASSRLS NOCREATEDB").format(
                    sql.Identifier(role), sql.Literal(password)))
        if recreate:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner)))
    db_dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=database)
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        params = {"owner": sql.Identifier(owner), "app": sql.Identifier(app), "db": sql.Identifier(database)}
        for statement in (
            "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
            "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {app}",
            "GRANT USAGE ON SCHEMA public TO {app}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO {app}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        ):
            conn.execute(sql.SQL(statement).format(**params))


def drop(admin_dsn: str, database: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
