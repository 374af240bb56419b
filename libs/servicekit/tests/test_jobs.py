"""servicekit.jobs on a real (SQLite) table in its own process: the row's life, and retry later / final attempt.

Django is configured in a child process (the kit's own suite runs without a Django project); the services' suites
run the same module on PostgreSQL through their imports, reports and deliveries.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = r"""
import json, django
from django.conf import settings
settings.configure(INSTALLED_APPS=["django.contrib.contenttypes"], USE_TZ=True,
                   DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
django.setup()
from django.db import connection, models, transaction
from celery import Celery
from servicekit import jobs

class Upload(jobs.JobRow):
    name = models.CharField(max_length=20)
    updated_at = models.DateTimeField(auto_now=True)
    class Meta:
        app_label = "contenttypes"

with connection.schema_editor() as editor:
    editor.create_model(Upload)

out = {}
row = Upload.objects.create(name="a")
out["new"] = [row.status, row.public_status, row.generation, row.progress]
with transaction.atomic():
    job = jobs.lock(Upload, row.pk)
    jobs.start(job, "parsing", progress=10)
    jobs.advance(job, "storing", progress=5)        # progress never goes back
fresh = Upload.objects.get(pk=row.pk)
out["running"] = [fresh.status, fresh.stage, fresh.public_status, fresh.progress, fresh.attempts]
jobs.fail(fresh, {"type": "urn:vo2:problem:x", "status": 422, "detail": "bad", "junk": 1})
fresh = Upload.objects.get(pk=row.pk)
out["failed"] = [fresh.public_status, fresh.problem, fresh.finished, fresh.finished_at is not None]
jobs.rerun(fresh)
fresh = Upload.objects.get(pk=row.pk)
out["rerun"] = [fresh.public_status, fresh.generation, fresh.progress, fresh.problem, fresh.finished_at]
jobs.finish(fresh)
fresh = Upload.objects.get(pk=row.pk)
out["done"] = [fresh.public_status, fresh.progress, fresh.stage]
out["gone"] = jobs.lock(Upload, 999) is None

app = Celery("t")
app.conf.update(task_always_eager=True)  # an eager retry runs the next attempt at once, in this process
calls, gave_up, crashed = [], [], []

def flaky(n):
    calls.append(n)
    if len(calls) < n:
        raise jobs.RetryLater(f"try {len(calls)}", countdown=0)
    return "ok"

job = jobs.background_job(app, "t.flaky", max_retries=2, give_up=lambda n, reason: gave_up.append(reason) or "gave up",
                          crashed=lambda n: crashed.append(n))(flaky)
job.task.apply(args=[3], throw=False)                      # fails twice, retried, then succeeds
out["retried"] = [len(calls), list(gave_up)]
calls.clear()
job.task.apply(args=[9], throw=False)                      # the third attempt is the final one: it gives up
out["final"] = [len(calls), list(gave_up)]
out["last"] = job.task.apply(args=[9], retries=2).get()   # a redelivered final attempt answers what give_up says
calls.clear()
try:
    job.run(9, final=False)
except jobs.RetryLater as exc:
    out["not_final"] = exc.reason
def broken(n):
    raise KeyError(n)
bug = jobs.background_job(app, "t.broken", crashed=lambda n: crashed.append(n))(broken)
try:
    bug.run(7)
except KeyError:
    out["crashed"] = crashed
from servicekit import requestid
seen = []
traced = jobs.background_job(app, "t.traced")(lambda n: seen.append((requestid.current_request_id(),
                                                                     requestid.current_trace_id())))
traced.task.apply(args=[1], headers={"vo2_request_id": "req-1", "vo2_trace_id": "ab" * 16})
traced.task.apply(args=[2], task_id="t-2")
out["traced"] = seen + [[requestid.current_request_id(), requestid.current_trace_id()]]
from django.db import OperationalError
def database_away(n):
    raise OperationalError("server closed the connection unexpectedly")
restarted = jobs.background_job(app, "t.db", crashed=lambda n: crashed.append(("db", n)))(database_away)
try:
    restarted.run(5, final=False)
except jobs.RetryLater as exc:
    out["database_away"] = [exc.reason, exc.countdown, [c for c in crashed if c != 7]]
print(json.dumps(out, default=str))
"""


def test_job_row_life_and_retry_semantics():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["new"] == ["queued", "queued", 1, 0]
    assert out["running"] == ["running", "storing", "storing", 10, 1]
    assert out["failed"] == ["failed", {"type": "urn:vo2:problem:x", "status": 422, "detail": "bad",
                                        "stage": "storing"}, True, True]
    assert out["rerun"] == ["queued", 2, 0, None, None]
    assert out["done"] == ["done", 100, ""]
    assert out["gone"] is True
    assert out["retried"] == [3, []]
    assert out["final"] == [3, ["try 3"]]
    assert out["last"] == "gave up"
    assert out["not_final"] == "try 1"
    assert out["crashed"] == [7]
    # the database gone (a restart) is a passing failure: retried soon, not a crash that fails the row
    assert out["database_away"] == ["database unavailable: OperationalError: server closed the connection "
                                    "unexpectedly", None, []]
    # the queuing request's ids name the job's log lines and calls; without them the job has its own
    assert out["traced"] == [["req-1", "ab" * 16], ["job-t-2", None], [None, None]]
