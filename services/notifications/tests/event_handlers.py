"""Test-only handlers (vo2test.* types, contracts in tests/contracts): effects are in-app notifications."""
import os
import time
from collections import Counter

from servicekit.events import Event, handles

from notifications.inapp.actions import notify

CALLS: Counter = Counter()  # deliveries seen in this process, by event id


@handles("vo2test.probe.recorded")
def recorded(event: Event):
    CALLS[event.id] += 1
    notify(tenant_id=event.tenant_id, user_id=event.data["user_id"], kind="probe", title=f"probe {event.data['n']}",
           event_id=event.id)


@handles("vo2test.probe.failing")
def failing(event: Event):
    CALLS[event.id] += 1
    notify(tenant_id=event.tenant_id, user_id=event.data["user_id"], kind="probe", title="written, then undone",
           event_id=event.id)
    if os.path.exists(event.data["fail_while_exists"]):
        raise RuntimeError("this handler fails while its flag file exists")


@handles("vo2test.probe.slow")
def slow(event: Event):
    marker = event.data["marker"]
    notify(tenant_id=event.tenant_id, user_id=event.data["user_id"], kind="probe", title="slow", event_id=event.id)
    if not os.path.exists(marker):
        open(marker, "w").write(str(os.getpid()))
        time.sleep(event.data["sleep"])  # killed here the first time
