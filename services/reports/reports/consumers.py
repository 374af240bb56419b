"""Events reports consumes (`manage.py run_consumer`): an analysed test may auto-request a report; a deleted test,
athlete or tenant takes its reports and files with it, and reports confirms (`reports.deletion.confirmed`)."""
from __future__ import annotations

import logging

from servicekit.events import handles

from . import events
from .documents import actions, tasks

log = logging.getLogger(__name__)


@handles(events.TEST_ANALYZED)
def on_test_analyzed(event) -> None:
    """With the tenant's `auto_report` on, every (re-)analysed test gets a report in the tenant's language and
    template. One report per test revision: the idempotency key names the revision."""
    settings = actions.settings_for_tenant(event.tenant_id)
    if not settings.auto_report:
        return
    test_id = event.data.get("test_id")
    if not test_id:
        return
    if actions.is_erased(test_id=test_id, athlete_id=event.data.get("athlete_id")):
        # a late event (the analysis finished while the test or its athlete was being deleted): nothing comes back
        log.info("no auto report for test %s: it was erased", test_id,
                 extra={"tenant_id": event.tenant_id, "event_id": event.id})
        return
    if not analysable(event.data):
        log.info("no auto report for test %s: its result is insufficient", test_id,
                 extra={"tenant_id": event.tenant_id, "event_id": event.id})
        return
    revision = event.data.get("revision", event.id)
    report, created = actions.request_report(
        tenant_id=event.tenant_id, test_id=test_id, language=settings.language, template=settings.template,
        requested_by=str(event.data.get("requested_by") or ""), idempotency_key=f"auto:{test_id}:{revision}",
        auto=True)
    if created:
        tasks.render_later(report)
    log.info("auto report %s for test %s (%s)", report.id, test_id, "queued" if created else "already there",
             extra={"tenant_id": event.tenant_id, "event_id": event.id})


@handles(events.TEST_DELETED)
def on_test_deleted(event) -> None:
    if event.data.get("reason") == "athlete_deleted":
        # the athlete's own request names this test and is the one measurements waits for: erasing here first
        # would leave that request's confirmation counting 0
        return
    actions.erase_test(event.tenant_id, event.data["test_id"], request_event_id=event.id)


@handles(events.ATHLETE_DELETED)
def on_athlete_deleted(event) -> None:
    actions.erase_athlete(event.tenant_id, event.data["athlete_id"], event.data.get("test_ids") or [],
                          request_event_id=event.id)


@handles(events.TENANT_DELETED)
def on_tenant_deleted(event) -> None:
    actions.erase_tenant(event.tenant_id, request_event_id=event.id)


def analysable(data: dict) -> bool:
    """An analysed test whose result cannot be reported (`status: insufficient`, `usable: false`, or the engine's
    `insufficient` quality flag among the event's flags) gets no automatic report."""
    if data.get("status") == "insufficient" or data.get("usable") is False:
        return False
    flags = data.get("quality_flags") or []
    codes = {f.get("code") if isinstance(f, dict) else f for f in flags if isinstance(f, (dict, str))}
    return "insufficient" not in codes
