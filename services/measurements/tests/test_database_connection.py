"""A kept PostgreSQL connection is checked before each request without a query (servicekit.django.postgresql), and
one the server ended is still replaced before a request uses it."""
import select
import time

import psycopg
import pytest
from django.db import connection

from servicekit import testing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def last_query_of(pid: int) -> str:
    """What the backend serving `pid` ran last, as PostgreSQL itself reports it (from another session)."""
    with psycopg.connect(testing.POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        return admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def wait_until_readable(fd: int, timeout: float = 10.0) -> None:
    assert select.select([fd], [], [], timeout)[0], "the server said nothing on the ended connection"


def request_start_check() -> None:
    """What Django does before a request's first query when CONN_HEALTH_CHECKS is on."""
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_a_healthy_kept_connection_is_checked_without_a_round_trip():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'the last request'")
    pid = connection.connection.info.backend_pid
    request_start_check()
    assert connection.connection is not None and connection.connection.info.backend_pid == pid  # kept
    assert last_query_of(pid) == "SELECT 'the last request'"  # no SELECT 1 reached the server


def test_a_connection_the_server_ended_is_replaced_before_the_next_request_uses_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    old_pid = connection.connection.info.backend_pid
    with psycopg.connect(testing.POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [old_pid]).fetchone() == (True,)
    wait_until_readable(connection.connection.fileno())
    request_start_check()
    with connection.cursor() as cursor:  # the request's first query, on a new connection: no error
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_a_connection_with_something_unread_is_asked_and_kept_when_alive():
    """A notification waiting on the socket is not an ended connection: the check falls back to SELECT 1."""
    with connection.cursor() as cursor:
        cursor.execute("LISTEN vo2_test_channel")
    pid = connection.connection.info.backend_pid
    same_database = testing.POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(same_database, autocommit=True) as peer:
        peer.execute("NOTIFY vo2_test_channel")
    wait_until_readable(connection.connection.fileno())
    request_start_check()
    assert connection.connection.info.backend_pid == pid  # alive: kept
    deadline = time.monotonic() + 5
    while last_query_of(pid) != "SELECT 1" and time.monotonic() < deadline:  # the activity view lags a little
        time.sleep(0.05)
    assert last_query_of(pid) == "SELECT 1"
    with connection.cursor() as cursor:
        cursor.execute("UNLISTEN *")
