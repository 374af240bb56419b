"""The renderer task: idempotent under redelivery, one file per report, failures with reasons, events."""
import json
import uuid

import pytest

from reports.documents import actions, tasks
from reports.documents.models import Report, report_key
from servicekit import jobs
from servicekit.events.models import OutboxEvent
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def new_report(tenant_id, test_id, language="en", template="athlete"):
    with tenant_transaction(tenant_id):
        report, _ = actions.request_report(tenant_id=tenant_id, test_id=test_id, language=language,
                                           template=template, requested_by=str(uuid.uuid4()))
    return str(report.id)


def files(storage):
    return sorted(p.relative_to(storage.root) for p in storage.root.rglob("*") if p.is_file())


def events(report_id, kind):
    rows = OutboxEvent.objects.filter(type=kind)
    return [json.loads(r.body) for r in rows if json.loads(r.body)["data"]["report_id"] == report_id]


def get(tenant_id, report_id) -> Report:
    with tenant_transaction(tenant_id):
        return Report.objects.get(pk=report_id)


def update(tenant_id, report_id, **fields) -> None:
    with tenant_transaction(tenant_id):
        assert Report.objects.filter(pk=report_id).update(**fields) == 1


def test_running_twice_leaves_one_file_and_one_ready_event(tenant_a, upstream, measurements, storage, zan_payload):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))
    assert tasks.render(report_id, tenant_a) == "done"
    first = get(tenant_a, report_id)
    assert tasks.render(report_id, tenant_a) == "done"  # a redelivery after success changes nothing
    again = get(tenant_a, report_id)
    assert files(storage) == [__import__("pathlib").Path(report_key(tenant_a, report_id))]
    assert again.sha256 == first.sha256 and again.attempts == 1
    ready = events(report_id, "reports.report.ready")
    assert len(ready) == 1
    data = ready[0]["data"]
    assert ready[0]["tenantid"] == tenant_a and data["pages"] == 2 and data["size_bytes"] == first.size_bytes
    assert data["download_path"] == f"/api/v1/reports/{report_id}/file" and data["athlete_id"]
    # the rendering's progress, for the requester's live stream (notifications), once (not again on redelivery)
    progressed = [e["data"] for e in events(report_id, "reports.report.progressed")]
    assert [(d["stage"], d["progress"]) for d in progressed] == [("rendering", 10), ("rendering", 50),
                                                                 ("rendering", 80)]
    assert {(d["requested_by"], d["test_id"], d["generation"]) for d in progressed} == {
        (first.requested_by, str(first.test_id), 1)}


def test_worker_killed_mid_render_then_redelivered_leaves_exactly_one_file(tenant_a, upstream, measurements, storage,
                                                                          zan_payload):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))
    key = report_key(tenant_a, report_id)
    # the killed worker: it had set `rendering` and was writing its temporary file when it died
    update(tenant_a, report_id, status="running", stage="rendering", progress=80, attempts=1)
    path = storage.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / f".{path.name}.deadbeef{storage.TMP_SUFFIX}").write_bytes(b"%PDF-1.4 half a file")
    assert tasks.render(report_id, tenant_a) == "done"  # the broker redelivers (late ack, reject on worker lost)
    assert files(storage) == [__import__("pathlib").Path(key)]
    report = get(tenant_a, report_id)
    assert report.status == "done" and report.attempts == 2
    assert storage.path(key).read_bytes().startswith(b"%PDF-")


def test_worker_killed_after_the_file_but_before_the_commit(tenant_a, upstream, measurements, storage, zan_payload):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))
    key = report_key(tenant_a, report_id)
    storage.put(key, b"%PDF-1.4 from the run that died")
    update(tenant_a, report_id, status="running", stage="rendering", progress=95)
    assert tasks.render(report_id, tenant_a) == "done"
    assert files(storage) == [__import__("pathlib").Path(key)]
    report = get(tenant_a, report_id)
    import hashlib

    assert hashlib.sha256(storage.path(key).read_bytes()).hexdigest() == report.sha256
    assert len(events(report_id, "reports.report.ready")) == 1


def test_failed_render_is_a_failed_report_with_a_reason(tenant_a, upstream, measurements, storage, zan_payload,
                                                        monkeypatch):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))

    def broken(*args, **kwargs):
        raise RuntimeError("the renderer broke")

    monkeypatch.setattr(tasks.rendering, "render_report", broken)
    assert tasks.render(report_id, tenant_a) == "failed"
    report = get(tenant_a, report_id)
    assert report.status == "failed" and report.error_code == "render-error" and "renderer broke" in report.error
    assert files(storage) == []
    failed = events(report_id, "reports.report.failed")
    assert len(failed) == 1 and failed[0]["data"]["error_code"] == "render-error"
    assert tasks.render(report_id, tenant_a) == "failed"  # a redelivery does not try again or publish twice
    assert len(events(report_id, "reports.report.failed")) == 1


def test_test_without_analysis_fails_with_no_analysis(tenant_a, upstream, measurements, storage, zan_payload):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload, analysis=False))
    assert tasks.render(report_id, tenant_a) == "failed"
    assert get(tenant_a, report_id).error_code == "no-analysis"


def test_measurements_down_is_retried_then_fails(tenant_a, upstream, measurements, storage, zan_payload):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))
    upstream.fail_with = 503
    with pytest.raises(jobs.RetryLater):
        tasks.render(report_id, tenant_a, final=False)
    assert get(tenant_a, report_id).public_status == "rendering"
    assert tasks.render(report_id, tenant_a, final=True) == "failed"
    report = get(tenant_a, report_id)
    assert report.error_code == "measurements-unavailable" and "503" in report.error


def test_celery_task_retries_transient_failures(tenant_a, upstream, measurements, storage, zan_payload, settings):
    from celery.exceptions import Retry

    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))
    upstream.fail_with = 502
    with pytest.raises(Retry):
        tasks.render.task.apply(args=(report_id, tenant_a), throw=True)
    upstream.fail_with = None
    result = tasks.render.task.apply(args=(report_id, tenant_a), throw=True)
    assert result.get() == "done"
    assert tasks.render.task.acks_late and tasks.render.task.reject_on_worker_lost


def test_report_of_another_tenant_is_not_touched(tenant_a, tenant_b, upstream, measurements, storage, zan_payload):
    report_id = new_report(tenant_a, upstream.add_test(tenant_a, zan_payload))
    assert tasks.render(report_id, tenant_b) == "missing"  # a task naming the wrong tenant finds nothing
    assert get(tenant_a, report_id).status == "queued"


@pytest.mark.postgres_only  # the worker is another process: it must see committed rows
def test_a_real_worker_killed_mid_render_leaves_one_file_after_the_next_worker(tenant_a, upstream, measurements,
                                                                               storage, zan_payload, tmp_path):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from .fake_upstream import CLIENT_ID, CLIENT_SECRET

    test_id = upstream.add_test(tenant_a, zan_payload)
    report_id = new_report(tenant_a, test_id, language="ru", template="full")
    queue = f"reports.tasks.test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MEASUREMENTS_URL": upstream.url, "IDENTITY_URL": upstream.url,
           "SERVICE_CLIENT_ID": CLIENT_ID, "SERVICE_CLIENT_SECRET": CLIENT_SECRET, "REPORTS_QUEUE": queue,
           "REPORTS_DIR": str(storage.root), "LOG_LEVEL": "WARNING"}
    log = tmp_path / "workers.log"

    def worker():
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "reports.celery", "worker", "-Q", queue,
                                 "--pool", "solo", "--without-heartbeat", "--without-mingle", "--without-gossip",
                                 "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
                                cwd=Path(__file__).resolve().parents[1], env=env, stdout=open(log, "ab"),
                                stderr=subprocess.STDOUT)

    upstream.stall_next_get = 30.0
    first, second = worker(), None
    try:
        tasks.render.task.apply_async(args=[report_id, tenant_a], queue=queue)
        assert upstream.stalled.wait(60), log.read_text()[-3000:]
        first.kill()  # SIGKILL while the render waits for measurements: no ack, no cleanup
        first.wait(10)
        assert get(tenant_a, report_id).status != Report.Status.DONE
        second = worker()
        deadline = time.monotonic() + 90
        while get(tenant_a, report_id).status not in (Report.Status.DONE, Report.Status.FAILED):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        report = get(tenant_a, report_id)
        assert report.status == Report.Status.DONE, report.error
        assert files(storage) == [Path(report_key(tenant_a, report_id))]
        assert len(events(report_id, "reports.report.ready")) == 1
    finally:
        for w in (first, second):
            if w is not None and w.poll() is None:
                w.terminate()
                try:
                    w.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    w.kill()
