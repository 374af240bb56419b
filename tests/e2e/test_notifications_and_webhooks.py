"""Issue 14 end to end through the gateway, in both modes: an upload tells its uploader in-app and by e-mail (a
real SMTP server), a report tells its requester, a webhook receiver on 127.0.0.1 gets reports.report.ready signed
per Standard Webhooks (verified with the reference library), a receiver answering 500 gets the retries and then its
endpoint is disabled, and the delivery log shows every attempt."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from .conftest import OWNER_EMAIL
from .test_tests_and_reports import FORMATS, upload, wait_for_import


class Receiver:
    def __init__(self, status: int):
        self.status, self.requests = status, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if receiver.status >= 400 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait(predicate, timeout=60.0, what="it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"no {what} within {timeout} s")


@pytest.fixture
def receivers():
    good, bad = Receiver(200), Receiver(500)
    yield good, bad
    good.close()
    bad.close()


class Stream:
    """GET /api/v1/notifications/stream through the gateway, read in a thread: the SSE events as they come."""

    def __init__(self, api, last_event_id=None):
        import httpx

        self.events, self.comments, self.opened = [], 0, threading.Event()
        headers = api.headers({"Accept": "text/event-stream", **({"Last-Event-ID": last_event_id}
                                                                 if last_event_id else {})})
        self.client = httpx.Client(base_url=api.base, timeout=httpx.Timeout(10, read=60))
        self.status = None

        def run():
            try:
                with self.client.stream("GET", "/api/v1/notifications/stream", headers=headers) as response:
                    self.status = response.status_code
                    self.opened.set()
                    fields = {}
                    for line in response.iter_lines():
                        if line.startswith(":"):
                            self.comments += 1
                        elif line == "":
                            if "data" in fields:
                                self.events.append({"id": fields.get("id"), "event": fields.get("event"),
                                                    "data": json.loads(fields["data"])})
                            fields = {}
                        elif ": " in line:
                            name, value = line.split(": ", 1)
                            fields[name] = value
            except Exception:  # closed by the test
                self.opened.set()

        threading.Thread(target=run, daemon=True).start()
        assert self.opened.wait(30) and self.status == 200, self.status

    def close(self):
        self.client.close()


def notification(owner, kind, key, value):
    found = owner.get(f"/api/v1/notifications/?kind={kind}&page_size=50").json()["results"]
    return next((n for n in found if n["data"].get(key) == value), None)


def test_upload_report_and_webhooks_end_to_end(owner, mailbox, receivers):
    good, bad = receivers
    # the uploader wants import-done e-mails too (default: in-app only)
    answer = owner.get("/api/v1/notifications/preferences")
    assert answer.status_code == 200, answer.text
    prefs = answer.json()
    prefs["kinds"]["import.done"]["email"] = True
    assert owner.put("/api/v1/notifications/preferences", {"kinds": prefs["kinds"]}).status_code == 200
    made = owner.post("/api/v1/webhooks/", {"url": good.url, "events": ["reports.report.ready"]})
    assert made.status_code == 201, made.text
    hook = made.json()
    failing = owner.post("/api/v1/webhooks/", {"url": bad.url, "events": ["reports.*"]}).json()

    athlete = owner.post("/api/v1/athletes/", {"first_name": "Olga", "last_name": "Webhookova", "sex": "female",
                                               "birth_date": "1995-02-03", "body_mass_kg": 61.0}).json()
    live = Stream(owner)  # the import's progress, live
    try:
        import_id = upload(owner, athlete, FORMATS["zan"]).json()["id"]
        state = wait_for_import(owner, import_id, timeout=240)
        assert state["status"] == "done", state
        test_id = state["test"]
        finished = wait(lambda: next((e for e in live.events if e["event"] == "progress" and e["data"]["id"]
                                      == import_id and e["data"]["status"] == "done"), None),
                        what="the import's progress reaching done on the stream")
        steps = [e["data"] for e in live.events if e["event"] == "progress" and e["data"]["id"] == import_id]
        assert finished["data"]["kind"] == "import" and finished["data"]["progress"] == 100 and finished["id"]
        assert [d["progress"] for d in steps] == sorted(d["progress"] for d in steps)   # never back
        assert {d["stage"] for d in steps if d["status"] == "running"} <= {"parsing", "storing", "analyzing"}
    finally:
        live.close()
    done = wait(lambda: notification(owner, "import.done", "test_id", test_id), what="the import-done notification")
    assert "Olga Webhookova" in done["title"] and done["read"] is False
    assert done["data"]["link"] == f"{owner.base}/api/v1/tests/{test_id}/analysis"
    # the mailbox serves both modes' systems: this system's mail is the one that links to this test
    link = f"{owner.base}/api/v1/tests/{test_id}/analysis"
    mails = wait(lambda: [m for m in mailbox.messages if OWNER_EMAIL in m["to"] and "Olga Webhookova" in m["subject"]
                          and link in m["body"]], what="the import-done e-mail")
    assert len(mails) == 1
    assert owner.get("/api/v1/notifications/unread-count").json()["unread"] >= 1

    stream = Stream(owner)
    try:
        report_id = owner.post("/api/v1/reports/", {"test": test_id, "language": "en",
                                                    "template": "athlete"}).json()["id"]
        ready = wait(lambda: notification(owner, "report.ready", "report_id", report_id), timeout=120,
                     what="the report-ready notification")
        assert "Olga Webhookova" in ready["title"]
        assert ready["data"]["link"].endswith(f"/api/v1/reports/{report_id}/file")
        pushed = wait(lambda: next((e for e in stream.events if e["data"]["id"] == ready["id"]), None),
                      what="the report-ready notification on the stream")
        assert pushed["event"] == "notification" and pushed["data"]["kind"] == "report.ready" and pushed["id"]
        rendered = wait(lambda: next((e for e in stream.events if e["event"] == "progress" and e["data"]["id"]
                                      == report_id and e["data"]["status"] == "done"), None),
                        what="the report's progress reaching done on the stream")
        assert rendered["data"]["kind"] == "report" and rendered["data"]["progress"] == 100
    finally:
        stream.close()

    # the receiver got the event, signed with the secret shown at creation
    request = wait(lambda: next((r for r in good.requests if json.loads(r["body"])["data"].get("report_id")
                                 == report_id), None), what="the webhook delivery")
    payload = Webhook(hook["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "reports.report.ready" and payload["specversion"] == "1.0"
    assert request["headers"]["webhook-id"] == payload["id"]
    log = owner.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["results"]
    shown = next(d for d in log if d["event_id"] == payload["id"])
    assert shown["status"] == "done" and shown["attempt_log"][0]["status_code"] == 200

    # the failing receiver: three attempts (two retries in this system's schedule), then its endpoint is disabled
    wait(lambda: owner.get(f"/api/v1/webhooks/{failing['id']}").json()["enabled"] is False, timeout=90,
         what="the failing endpoint disabled")
    assert len([r for r in bad.requests if r["headers"]["webhook-id"] == payload["id"]]) == 3
    failed = owner.get(f"/api/v1/webhooks/{failing['id']}/deliveries").json()["results"]
    attempts = [a["status_code"] for a in failed[-1]["attempt_log"]]
    assert failed[-1]["status"] == "failed" and attempts == [500, 500, 500]
    told = wait(lambda: notification(owner, "webhook.disabled", "webhook_id", failing["id"]),
                what="the owner told of the disabled endpoint")
    assert bad.url in told["body"]
