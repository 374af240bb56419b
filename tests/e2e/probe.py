"""A test consumer on the system's real event bus: its own queue, bound to the types it waits for."""
from __future__ import annotations

import json
import os
import time
import uuid

from servicekit.events import broker


class EventProbe:
    def __init__(self, system, *event_types: str):
        self.system = system
        self.url = system.saas.broker_url if system.mode == "saas" else "filesystem://"
        os.environ["VO2_BROKER_DIR"] = str(system.data_dir / "broker")  # local mode: the system's broker folder
        self.name = f"e2e-probe-{uuid.uuid4().hex[:8]}"
        self.conn = broker.connection(self.url)
        self.channel = self.conn.channel()
        self.queue = broker.service_queue(self.name, event_types)(self.channel)
        broker.EVENTS_EXCHANGE(self.channel).declare()
        self.queue.declare()
        self.seen: list[dict] = []

    def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.seen:
            if predicate(event):
                return event
        while time.monotonic() < deadline:
            message = self.queue.get(no_ack=False)
            if message is None:
                time.sleep(0.1)
                continue
            event = json.loads(message.body) if isinstance(message.body, (str, bytes)) else message.body
            message.ack()
            self.seen.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"no matching event within {timeout} s; saw {[e.get('type') for e in self.seen]}")

    def close(self):
        try:
            self.queue.delete()
        finally:
            self.conn.release()
