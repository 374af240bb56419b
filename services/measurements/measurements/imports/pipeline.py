"""The import pipeline: stored upload → analysis `parse` → samples stored (COPY) → analysis `cpet` → result stored.

Idempotent by design, so a redelivered task (a SIGKILLed worker, late acks) completes the job exactly once in
effect: each stage is done once per generation of the import (`stored_generation`, `analyzed_generation`), checked
under a row lock in the transaction that does the stage's writes. Samples and the test are written in one
transaction; if the analysis then refuses the data, the test (and its samples) is removed again, the import is
failed with the analysis service's problem, and the uploaded file is kept for a re-run.
"""
from __future__ import annotations

import datetime
import logging

from django.utils import timezone

from servicekit.tenancy import tenant_transaction

from ..exercise_tests import actions as test_actions
from ..exercise_tests.models import ExerciseTest
from .. import events
from ..infra import analysis_client
from ..infra.analysis_client import AnalysisProblem, AnalysisUnavailable
from ..infra.service_tokens import ServiceTokenError
from ..infra.storage import get_storage
from ..results import actions as result_actions
from ..results import queries as result_queries
from ..results.models import AnalysisAudit
from . import actions
from .models import Import

log = logging.getLogger(__name__)
S = Import.Status
MODALITY_BY_LOAD = {"power": ExerciseTest.Modality.CYCLING, "speed": ExerciseTest.Modality.RUNNING}


class Retry(Exception):
    """The job could not finish for a passing reason (analysis or identity unavailable): try again later."""


def _locked(import_id) -> Import | None:
    return (Import.objects.select_for_update(of=("self",)).select_related("test", "athlete")
            .filter(pk=import_id).first())


def run_import(import_id: str, tenant_id: str) -> str:
    """Run (or resume) one import for one tenant. Returns the final status; raises Retry on passing failures."""
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is None:
            return "gone"  # deleted meanwhile (GDPR): nothing to do
        if imp.status in (S.DONE, S.FAILED):
            return imp.status  # this generation already finished: a redelivery changes nothing
        gen = imp.generation
        Import.objects.filter(pk=imp.pk).update(attempts=imp.attempts + 1)
        if imp.stored_generation < gen:
            actions.set_stage(imp, S.PARSING)
    samples = None
    try:
        if imp.stored_generation < gen:
            samples = _parse_and_store(imp, tenant_id, gen)
            if samples is None:
                return S.FAILED
        return _analyze(import_id, tenant_id, gen, samples)
    except (AnalysisUnavailable, ServiceTokenError) as exc:
        raise Retry(str(exc)) from exc


def _parse_and_store(imp: Import, tenant_id: str, gen: int) -> dict | None:
    data = get_storage().read(imp.file_key)
    try:
        parsed = analysis_client.parse(tenant_id, imp.filename, data, imp.format_hint or None)
    except AnalysisProblem as exc:
        with tenant_transaction(tenant_id):
            current = _locked(imp.pk)
            if current is not None and current.generation == gen and current.status not in (S.DONE, S.FAILED):
                actions.fail(current, "parsing", exc.problem)
        return None
    samples = parsed.get("samples") or {}
    if not samples.get("time_s"):
        with tenant_transaction(tenant_id):
            actions.fail(imp, "parsing", {"type": "urn:vo2:problem:no-samples", "title": "Unprocessable Content",
                                          "status": 422, "detail": "the file holds no breath-by-breath samples"})
        return None
    with tenant_transaction(tenant_id):
        actions.set_stage(imp, S.STORING)
    meta = parsed.get("metadata") or {}
    with tenant_transaction(tenant_id):  # the test and its samples: all or nothing
        imp = _locked(imp.pk)
        if imp is None or imp.generation != gen or imp.stored_generation >= gen or imp.status == S.FAILED:
            return samples  # another delivery stored this generation meanwhile
        test = imp.test
        if test is None:
            test = test_actions.create_test(
                None, tenant_id=tenant_id, athlete=imp.athlete, date=_test_date(meta),
                modality=imp.modality or MODALITY_BY_LOAD.get(meta.get("load_kind"), ExerciseTest.Modality.OTHER),
                device=(meta.get("device") or "")[:200], status=ExerciseTest.Status.IMPORTING,
                source_format=parsed.get("format") or "", source_metadata=meta)
            test.created_by = imp.created_by
            test.save(update_fields=["created_by"])
        else:
            test.source_format, test.source_metadata = parsed.get("format") or "", meta
            test.save(update_fields=["source_format", "source_metadata", "updated_at"])
        count = test_actions.store_samples(test, samples)
        test_actions.set_status(test, ExerciseTest.Status.IMPORTED)
        actions.set_stage(imp, S.ANALYZING, test=test, stored_generation=gen,
                          detected_format=parsed.get("format") or "", warnings=parsed.get("warnings") or [])
        events.emit(events.TEST_IMPORTED, {
            "test_id": str(test.pk), "athlete_id": str(test.athlete_id), "import_id": str(imp.pk),
            "format": (parsed.get("format") or "unknown")[:50], "kind": "cpet", "sample_count": count,
            "imported_by": str(imp.created_by) if imp.created_by else None, "date": test.date.isoformat(),
            "modality": test.modality, "rerun": gen > 1,
        }, tenant_id=tenant_id, subject=str(test.pk))
    return samples


def _analyze(import_id: str, tenant_id: str, gen: int, samples: dict | None) -> str:
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is None:
            return "gone"
        if imp.analyzed_generation >= gen or imp.status in (S.DONE, S.FAILED):
            return imp.status
        test = imp.test
        latest = result_queries.latest_result(test)
        inputs = result_actions.gather(test, dict(latest.overrides) if latest else {}, samples=samples)
    try:
        computed = result_actions.call_analysis(inputs)
    except AnalysisProblem as exc:
        _fail_after_store(import_id, tenant_id, gen, exc.problem)
        return S.FAILED
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is None or imp.analyzed_generation >= gen or imp.generation != gen:
            return imp.status if imp else "gone"
        test = imp.test
        latest = result_queries.latest_result(test)
        if latest is None or latest.cache_key != computed.cache_key:
            action = AnalysisAudit.Action.IMPORT if latest is None else AnalysisAudit.Action.RECOMPUTE
            result_actions.save_version(test, computed, user_id=None, action=action,
                                        changes={"import": str(imp.pk), "generation": gen})
        else:
            test_actions.set_status(test, ExerciseTest.Status.ANALYZED)
        _fill_protocol(test, computed.result.get("protocol"))
        actions.set_stage(imp, S.DONE, analyzed_generation=gen)
    return S.DONE


def _fail_after_store(import_id: str, tenant_id: str, gen: int, problem: dict) -> None:
    """The analysis refused the stored data: a first import removes its test again (nothing half-way)."""
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is None or imp.generation != gen or imp.status in (S.DONE, S.FAILED):
            return
        test = imp.test
        if test is not None and gen == 1 and not result_queries.latest_result(test):
            actions.set_stage(imp, imp.status, test=None, stored_generation=0)
            test_actions.delete_test(test, reason="retention")
        elif test is not None:
            test_actions.set_status(test, ExerciseTest.Status.FAILED)
        actions.fail(imp, "analyzing", problem)


def run_import_reporting_unavailable(import_id: str, tenant_id: str, final: bool = True) -> str:
    """Run the job; when it cannot finish for a passing reason and no retry follows, fail it with that reason."""
    try:
        return run_import(import_id, tenant_id)
    except Retry as exc:
        if not final:
            raise
        with tenant_transaction(tenant_id):
            imp = _locked(import_id)
            if imp is not None and imp.status not in (S.DONE, S.FAILED):
                if imp.test_id and imp.generation == 1 and not result_queries.latest_result(imp.test):
                    test = imp.test
                    actions.set_stage(imp, imp.status, test=None, stored_generation=0)
                    test_actions.delete_test(test, reason="retention")
                actions.fail(imp, imp.status, {"type": "urn:vo2:problem:unavailable", "title": "Service Unavailable",
                                               "status": 503, "detail": f"the import could not finish: {exc}"})
        return S.FAILED


def fail_unexpectedly(import_id: str, tenant_id: str) -> None:
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is not None and imp.status not in (S.DONE, S.FAILED):
            actions.fail(imp, imp.status, {"type": "urn:vo2:problem:internal-error", "title": "Internal Server Error",
                                           "status": 500, "detail": "the import failed unexpectedly; re-run it"})


def _test_date(meta: dict) -> datetime.date:
    value = meta.get("test_date")
    if value:
        try:
            return datetime.date.fromisoformat(str(value)[:10])
        except ValueError:
            pass
    return timezone.now().date()


def _fill_protocol(test: ExerciseTest, protocol: dict | None) -> None:
    """What the analysis found about the protocol fills the test's fields the lab left empty."""
    if not isinstance(protocol, dict) or test.protocol:
        return
    kind = protocol.get("kind")
    if kind not in ("ramp", "steps"):
        return
    ExerciseTest.objects.filter(pk=test.pk).update(
        protocol=kind, protocol_start=protocol.get("start"), protocol_increment=protocol.get("increment"),
        protocol_stage_length_s=protocol.get("stage_length_s"))
