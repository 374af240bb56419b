"""Django's PostgreSQL backend with a health check that costs no round trip.

The services keep connections between requests (CONN_MAX_AGE) and check them before each request uses one
(CONN_HEALTH_CHECKS), so a database restart costs no request an error. Django checks with `SELECT 1`: one round
trip per request, which under load waits for a PostgreSQL backend as long as a real query does (py-spy: a tenth of
a read's time in measurements). A server that ends a connection — a restart, pg_terminate_backend, a crash — says
so on its socket (an error message, then end-of-file), so an idle connection whose socket has nothing to read is
alive; only one with something to read (that, or a notice) is checked with the query as before. A connection lost
without a word (a host gone from the network) is found by its first query, as with `SELECT 1`, which would wait
for the same TCP timeout.
"""
from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if raw.info.transaction_status == pq.TransactionStatus.IDLE and socket_is_quiet(raw.fileno()):
            return True
        return super().is_usable()  # something to read, or not idle: ask the server


def socket_is_quiet(fd: int) -> bool:
    """Nothing to read and no hang-up on `fd`, without waiting."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    readable, _, broken = select.select([fd], [], [fd], 0)
    return not readable and not broken
