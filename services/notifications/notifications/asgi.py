"""The notifications web server's application: uvicorn runs it (gunicorn's uvicorn worker in SaaS, a thread of the
service's process in local mode, launcher/local_process.py).

Every route is the Django (WSGI) application, unchanged, on a fixed pool of VO2_THREADS request threads (a2wsgi:
what gunicorn's gthread and waitress did), with one exception: the body of `GET /api/v1/notifications/stream`.
There the server offers the view to take the body over (a request header it sets itself, after dropping any the
client sent); the view authenticates and answers the stream's headers with a ticket, and this application writes
the events on its event loop (inapp.live), so the request thread is free again at once: open streams no longer use
up the threads the other routes need (they did: 8 open streams stopped the service).
"""
from __future__ import annotations

import json
import os
import re

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifications.settings")

from a2wsgi import WSGIMiddleware  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

django_application = get_wsgi_application()  # sets Django up before the service's modules are imported

from notifications.inapp import live, stream  # noqa: E402

STREAM_PATH = re.compile(r"/api/v1/notifications/stream/?")
OFFER = stream.HANDOFF_OFFER.lower().encode()
TICKET = stream.HANDOFF_TICKET.lower().encode()


class StreamHandOff:
    """Passes every request to `app`; a stream whose view took the offer gets its body from inapp.live."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not STREAM_PATH.fullmatch(scope["path"]):
            return await self.app(scope, receive, send)
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != OFFER] + [(OFFER, b"1")]}
        taken: dict = {}

        async def answer(message):
            if message["type"] == "http.response.start":
                ticket = next((v for k, v in message["headers"] if k == TICKET), None)
                if ticket is not None:
                    taken.update(json.loads(ticket))
                    message = {**message, "headers": [(k, v) for k, v in message["headers"]
                                                      if k not in (TICKET, b"content-length")]}
            elif taken:
                return  # the view's empty body: the stream's own follows
            await send(message)

        await self.app(scope, receive, answer)
        if taken:
            await live.produce(send, receive, tenant_id=taken["tenant_id"], user_id=taken["user_id"],
                               last_event_id=taken.get("last_event_id"))


def make_application(threads: int):
    return StreamHandOff(WSGIMiddleware(django_application, workers=threads))


application = make_application(int(os.environ.get("VO2_THREADS", "8")))
