"""identity's plan metric: how many tenants are read-only, or become so within a week (the alert rules warn before a
lab is locked out of writing). Read from the tenant registry when scraped, at most once a minute, by whichever
identity process serves the metrics."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from servicekit import metrics

PLANS = metrics.gauge("vo2_tenant_plans", "Tenants by plan state: writable, ending_7d (read-only within 7 days), "
                      "read_only", ["state"])
EVERY_S = 60.0
_last = {"at": 0.0}
_lock = threading.Lock()


def plan_states(now=None) -> dict[str, int]:
    from .models import Tenant
    from .plans import read_only_from

    now = now or timezone.now()
    soon = now + timedelta(days=7)
    counts = {"writable": 0, "ending_7d": 0, "read_only": 0}
    for tenant in Tenant.objects.only("on_trial", "trial_ends", "paid_until").iterator():
        since = read_only_from(tenant)
        state = "writable" if since is None or since > soon else "read_only" if since <= now else "ending_7d"
        counts[state] += 1
    return counts


def _read() -> None:
    with _lock:
        if time.monotonic() - _last["at"] < EVERY_S and _last["at"]:
            return
        _last["at"] = time.monotonic()
    try:
        for state, count in plan_states().items():
            PLANS.labels(state).set(count)
    finally:
        connection.close()  # the scrape's own thread: its connection must not outlive it


def watch() -> None:
    metrics.on_scrape(_read)
