"""Waking the live streams when something new for their user is committed, so a stream does not poll the table.

The table stays the record (a stream always reads what it sends from it, and resumes from it by Last-Event-ID);
this only says "look now". After the commit that wrote a notification or a progress row, `announce(tenant, user)`:

- SaaS (NOTIFICATION_STREAM_FANOUT=redis, the default when REDIS_URL is set outside local mode): a Redis PUBLISH
  on `vo2:notifications:<tenant>:<user>`. Each web process holds one subscriber connection (a thread, pattern
  `vo2:notifications:*`) that wakes the streams of that user in that process, so any worker or replica that wrote
  the row wakes every replica serving the user.
- local mode (`local`): an in-process wake-up. The consumer, the worker and the web server are threads of one
  process there (launcher/local_process.py), so nothing needs to cross a process.

A stream waits at most NOTIFICATION_STREAM_SAFETY_POLL_SECONDS for a wake-up and then reads the table anyway (a
pub/sub message is fire-and-forget: one lost in a Redis restart, or a row written by another process in local
mode, is still sent). While Redis is unreachable (`Hub.live()` false) streams fall back to polling every
NOTIFICATION_STREAM_POLL_SECONDS, and the subscriber reconnects in the background; a failed PUBLISH is only logged.
`poll` turns the wake-ups off altogether (every stream polls).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time

from django.conf import settings
from django.db import transaction

from servicekit.events import batch

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "vo2:notifications:"


def channel(tenant_id, user_id) -> str:
    return f"{CHANNEL_PREFIX}{tenant_id}:{user_id}"


def mode() -> str:
    return settings.NOTIFICATION_STREAM_FANOUT


class Waiter:
    """One stream's wake-up flag. `clear()` before reading the table, `wait()` after: a wake-up that arrives
    while the stream reads is kept, so nothing committed in between waits for the next poll. A stream served on an
    event loop (inapp.live) gives its loop and awaits `wait_async()`; wake-ups come from other threads (the Redis
    subscriber, the consumer) and reach the loop through call_soon_threadsafe."""

    def __init__(self, hub: "Hub", key: str, loop: asyncio.AbstractEventLoop | None = None):
        self.hub, self.key, self.flag = hub, key, threading.Event()
        self.loop, self.woken = loop, (asyncio.Event() if loop is not None else None)

    def set(self) -> None:
        """From any thread."""
        self.flag.set()
        if self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self.woken.set)
            except RuntimeError:  # the loop has closed: its stream is gone
                pass

    def clear(self) -> None:
        self.flag.clear()
        if self.woken is not None:
            self.woken.clear()

    def _timeout(self, at_most: float) -> float:
        timeout = (settings.NOTIFICATION_STREAM_SAFETY_POLL_SECONDS if self.hub.live()
                   else settings.NOTIFICATION_STREAM_POLL_SECONDS)
        return max(0.0, min(timeout, at_most))

    def wait(self, at_most: float) -> bool:
        """True when woken; False after the poll or safety interval (or `at_most` seconds)."""
        return self.flag.wait(self._timeout(at_most))

    async def wait_async(self, at_most: float, also: asyncio.Event | None = None) -> bool:
        """On the waiter's loop: True when woken (or `also` is set); False after the interval, as `wait`."""
        waits = [asyncio.ensure_future(self.woken.wait())]
        if also is not None:
            waits.append(asyncio.ensure_future(also.wait()))
        done, pending = await asyncio.wait(waits, timeout=self._timeout(at_most),
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return bool(done)

    def close(self) -> None:
        self.hub.leave(self)


class Hub:
    """The process's streams by (tenant, user), and, in SaaS, the Redis subscriber that wakes them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = {}
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = None

    # -- streams --------------------------------------------------------------------------------------------------
    def join(self, tenant_id, user_id, loop: asyncio.AbstractEventLoop | None = None) -> Waiter:
        key = channel(tenant_id, user_id)
        waiter = Waiter(self, key, loop)
        with self._lock:
            self._waiters.setdefault(key, set()).add(waiter)
        if mode() == "redis":
            self._ensure_subscriber()
        return waiter

    def leave(self, waiter: Waiter) -> None:
        with self._lock:
            found = self._waiters.get(waiter.key)
            if found is not None:
                found.discard(waiter)
                if not found:
                    del self._waiters[waiter.key]

    def wake(self, key: str) -> int:
        with self._lock:
            found = list(self._waiters.get(key, ()))
        for waiter in found:
            waiter.set()
        return len(found)

    def live(self) -> bool:
        """Do wake-ups reach this process's streams (so they may wait long between reads)?"""
        if mode() == "local":
            return True
        if mode() == "redis":
            return self._subscribed.is_set()
        return False

    # -- Redis --------------------------------------------------------------------------------------------------
    def redis(self):
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2,
                                                health_check_interval=10)
        return self._client

    def _ensure_subscriber(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._subscribe_forever, name="notifications-fanout",
                                            daemon=True)
            self._thread.start()

    def _subscribe_forever(self) -> None:
        delay = 0.5
        while True:
            pubsub = None
            try:
                pubsub = self.redis().pubsub()
                pubsub.psubscribe(CHANNEL_PREFIX + "*")
                deadline = time.monotonic() + 5.0  # streams rely on it only once Redis confirmed it
                while (pubsub.get_message(timeout=1.0) or {}).get("type") != "psubscribe":
                    if time.monotonic() > deadline:
                        raise TimeoutError("no psubscribe confirmation")
                self._subscribed.set()
                delay = 0.5
                log.info("stream wake-ups through Redis")
                while True:
                    message = pubsub.get_message(timeout=5.0)
                    if message and message.get("type") == "pmessage":
                        key = message["channel"]
                        self.wake(key.decode() if isinstance(key, bytes) else key)
                    elif message is None:
                        pubsub.ping()  # a dead connection shows itself here, not only on the next message
            except Exception as exc:  # Redis down or gone: the streams poll meanwhile
                if self._subscribed.is_set():
                    log.warning("stream wake-ups lost (%s: %s); streams poll until Redis is back",
                                type(exc).__name__, exc)
                self._subscribed.clear()
                self.wake_all()  # each stream reads the table once now and then polls
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # closing a broken connection
                        pass

    def wake_all(self) -> None:
        with self._lock:
            everyone = [w for found in self._waiters.values() for w in found]
        for waiter in everyone:
            waiter.set()


hub = Hub()


def _send(tenant_id, user_id) -> None:
    key = channel(tenant_id, user_id)
    if mode() == "redis":
        try:
            hub.redis().publish(key, "1")
        except Exception as exc:  # the streams' safety poll sends it anyway
            log.warning("stream wake-up not published (%s: %s)", type(exc).__name__, exc)
    elif mode() == "local":
        hub.wake(key)


def announce(tenant_id, user_id) -> None:
    """After the current transaction commits: the user's streams read the table now (nothing when it rolls back)."""
    if mode() == "poll":
        return
    once = batch.cache("inapp.announced")  # a consumer's batch wakes each user's streams once
    if (str(tenant_id), str(user_id)) in once:
        return
    once[(str(tenant_id), str(user_id))] = True
    transaction.on_commit(lambda: _send(str(tenant_id), str(user_id)))
