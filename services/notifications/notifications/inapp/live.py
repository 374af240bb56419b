"""The notification stream's body on the web server's event loop, so an open stream holds no request thread.

The view (inapp.stream) authenticates the caller and answers as any route does, on a request thread of the Django
application; when the server offers to take the body over (notifications.asgi), the view's answer is only the
stream's headers and a ticket (tenant, user, Last-Event-ID), and `produce()` writes the events here, as coroutines:
the same frames, ids, resume, heartbeat and end as `stream.frames` (the threads' version, still what a plain WSGI
server runs). It waits for wake-ups (inapp.fanout: Redis pub/sub in SaaS, the in-process wake-up in local mode) on
the loop; each read of the tables is a short call on a small pool of its own threads
(NOTIFICATION_STREAM_DB_THREADS), so a thousand open streams cost a thousand coroutines and no more database
connections than that pool has.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from . import fanout, stream

_pool: ThreadPoolExecutor | None = None


def _reads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.NOTIFICATION_STREAM_DB_THREADS,
                                   thread_name_prefix="stream-db")
    return _pool


def _fresh(fn, *args):
    # as around a request: a connection the database dropped, or one past CONN_MAX_AGE, is replaced
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def _read(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_reads(), _fresh, fn, *args)


def _frames_after(tenant_id: str, user_id: str, last):
    """The rows after `last` as (frame text, its mark), serialised in the thread (the ORM's objects stay there)."""
    return [(stream.frame(row), (stream._when(row), str(row.id))) for row in stream._after(tenant_id, user_id, last)]


async def produce(send, receive, *, tenant_id: str, user_id: str, last_event_id: str | None) -> None:
    """The stream's body after the headers went out: until NOTIFICATION_STREAM_MAX_SECONDS or the client leaves."""
    loop = asyncio.get_running_loop()
    left = asyncio.Event()

    async def watch_disconnect():
        while (await receive())["type"] != "http.disconnect":
            pass
        left.set()

    watcher = loop.create_task(watch_disconnect())
    waiter = fanout.hub.join(tenant_id, user_id, loop=loop)  # before the first read: a commit from now on wakes it

    async def write(text: str) -> None:
        await send({"type": "http.response.body", "body": text.encode(), "more_body": True})

    try:
        last = stream.parse_event_id(last_event_id)
        if last is None:  # a new stream starts from now: what is already there is in the list endpoint
            last = await _read(stream._newest, tenant_id, user_id)
        await write("retry: 2000\n: connected\n\n")
        started = beat = time.monotonic()
        while not left.is_set() and time.monotonic() - started < settings.NOTIFICATION_STREAM_MAX_SECONDS:
            waiter.clear()
            for text, mark in await _read(_frames_after, tenant_id, user_id, last):
                await write(text)
                last, beat = mark, time.monotonic()
            if time.monotonic() - beat >= settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS:
                await write(": heartbeat\n\n")
                beat = time.monotonic()
            await waiter.wait_async(settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS - (time.monotonic() - beat),
                                    left)
        if not left.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:
        pass  # the client went away while a frame was being written
    finally:
        waiter.close()
        watcher.cancel()
