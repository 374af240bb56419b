"""The import flow: stored upload → analysis `parse` → test and samples stored (COPY) → analysis `cpet` → result.

This module is the one home of the flow and owns its transactions; every write goes through a domain action
(imports/actions for the job row, exercise_tests, samples and results for the rest). Four short tenant
transactions, each locking the import row once, and no transaction open while the analysis service works:

    1 claim      lock; finished or gone → nothing to do; one more attempt; stage parsing (or analyzing)
      ⋯ parse    (no transaction) the file through analysis `parse`
    2 storing    lock; stage storing (visible while the samples are written)
    3 store      lock; the test created whole (or updated on a re-run) with its samples, `test.imported`,
                 stage analyzing; the analysis inputs read in the same transaction
      ⋯ analyse  (no transaction) one analysis `cpet` request
    4 save       lock; the result version stored (`test.analyzed`), protocol filled in, done

Idempotent by design, so a redelivered task (a SIGKILLed worker, late acks) completes the job once in effect: each
stage is done once per generation of the import (`stored_generation`, `analyzed_generation`), checked under the
row lock in the transaction that does the stage's writes. If the analysis refuses the stored data, a first import
drops its test again (nothing half-way), the import fails with the analysis service's problem, and the uploaded
file stays for a re-run. A passing failure (analysis or identity unreachable) raises `jobs.RetryLater`; the task
wrapper (tasks.py) retries, and on the final attempt calls `give_up`.
"""
from __future__ import annotations

import datetime


from servicekit import http, jobs
from servicekit.metrics import Timer
from servicekit.problems import problem
from servicekit.tenancy import tenant_transaction

from .. import events
from ..exercise_tests import actions as test_actions
from ..exercise_tests.models import ExerciseTest
from ..results import actions as result_actions
from ..results import analysis
from ..results import queries as result_queries
from ..results.models import AnalysisAudit
from ..samples import actions as sample_actions
from . import actions, warning_details
from .metrics import STAGE_DURATION
from .models import Import

Stage = Import.Stage
MODALITY_BY_LOAD = {"power": ExerciseTest.Modality.CYCLING, "speed": ExerciseTest.Modality.RUNNING}


def _locked(import_id) -> Import | None:
    return jobs.lock(Import, import_id, related=("test", "athlete"))


def _current(import_id, gen: int) -> Import | None:
    """The import, locked, if this generation is still the one to work on."""
    imp = _locked(import_id)
    if imp is None or imp.finished or imp.generation != gen:
        return None
    return imp


def run_import(import_id: str, tenant_id: str) -> str:
    """Run (or resume) one import for one tenant. Returns the final status ("gone" when it was deleted meanwhile);
    raises `jobs.RetryLater` on passing failures."""
    with tenant_transaction(tenant_id):  # 1 claim
        imp = _locked(import_id)
        if imp is None:
            return "gone"  # deleted meanwhile (GDPR): nothing to do
        if imp.finished:
            return imp.status  # this generation already finished: a redelivery changes nothing
        gen, needs_store = imp.generation, imp.stored_generation < imp.generation
        actions.claim(imp)
        filename, file_key, format_hint = imp.filename, imp.file_key, imp.format_hint
    try:
        if needs_store:
            with Timer(STAGE_DURATION.labels(Stage.PARSING.value)):
                parsed = _parse(import_id, tenant_id, gen, filename, file_key, format_hint)
            if parsed is None:
                return jobs.Status.FAILED
            with Timer(STAGE_DURATION.labels(Stage.STORING.value)):
                inputs = _store(import_id, tenant_id, gen, parsed)
        else:
            inputs = _inputs_of_stored(import_id, tenant_id, gen)
        if inputs is None:
            return _status(import_id, tenant_id)  # another delivery moved on meanwhile
        with Timer(STAGE_DURATION.labels(Stage.ANALYZING.value)):
            return _analyze(import_id, tenant_id, gen, inputs)
    except http.Unavailable as exc:
        raise jobs.RetryLater(exc.detail) from exc


def _parse(import_id, tenant_id: str, gen: int, filename: str, file_key: str, format_hint: str) -> dict | None:
    """The file read by the analysis service; None when it cannot be read (the import failed at parsing)."""
    try:
        parsed = analysis.parse(tenant_id, filename, actions.uploads().get(file_key), format_hint or None)
        failure = None if (parsed.get("samples") or {}).get("time_s") else problem(
            422, "no-samples", "the file holds no breath-by-breath samples", title="Unprocessable Content")
    except http.Refused as exc:
        failure = exc.problem
    with tenant_transaction(tenant_id):  # 2 storing (or failed at parsing)
        imp = _current(import_id, gen)
        if imp is None:
            return None
        if failure is not None:
            actions.fail(imp, Stage.PARSING, failure)
            return None
        actions.set_stage(imp, Stage.STORING)
    return parsed


def _store(import_id, tenant_id: str, gen: int, parsed: dict) -> result_actions.Inputs | None:
    """The test and its samples, all or nothing; returns what the analysis needs, read in the same transaction."""
    samples, meta, fmt = parsed["samples"], parsed.get("metadata") or {}, parsed.get("format") or ""
    with tenant_transaction(tenant_id):  # 3 store
        imp = _current(import_id, gen)
        if imp is None or imp.stored_generation >= gen:
            return None  # another delivery stored this generation meanwhile
        test = imp.test
        if test is None:
            test = test_actions.create_test(
                tenant_id=tenant_id, created_by=imp.created_by, athlete=imp.athlete, date=_test_date(meta),
                modality=imp.modality or MODALITY_BY_LOAD.get(meta.get("load_kind"), ExerciseTest.Modality.OTHER),
                device=(meta.get("device") or "")[:200], status=ExerciseTest.Status.IMPORTING,
                source_format=fmt, source_metadata=meta)
        else:
            test_actions.record_source(test, fmt, meta)
        count = sample_actions.store_samples(test, samples)
        test_actions.set_status(test, ExerciseTest.Status.IMPORTED)
        actions.stored(imp, test, detected_format=fmt, warnings=warning_details.reader_warnings(parsed))
        events.emit(events.TEST_IMPORTED, {
            "test_id": str(test.pk), "athlete_id": str(test.athlete_id), "import_id": str(imp.pk),
            "format": (fmt or "unknown")[:50], "kind": "cpet", "sample_count": count,
            "imported_by": str(imp.created_by) if imp.created_by else None, "date": test.date.isoformat() if test.date else None,
            "modality": test.modality, "rerun": gen > 1, "athlete_name": str(imp.athlete)[:300],
        }, tenant_id=tenant_id, subject=str(test.pk))
        return _gather(test, samples)


def _inputs_of_stored(import_id, tenant_id: str, gen: int) -> result_actions.Inputs | None:
    """A redelivery after this generation's samples were stored: the inputs read back from the database."""
    with tenant_transaction(tenant_id):
        imp = _current(import_id, gen)
        if imp is None or imp.analyzed_generation >= gen or imp.test is None:
            return None
        return _gather(imp.test, None)


def _gather(test: ExerciseTest, samples: dict | None) -> result_actions.Inputs:
    latest = result_queries.latest_result(test)
    return result_actions.gather(test, dict(latest.overrides) if latest else {}, samples=samples)


def _analyze(import_id, tenant_id: str, gen: int, inputs: result_actions.Inputs) -> str:
    try:
        computed = result_actions.call_analysis(inputs)
    except http.Refused as exc:
        with tenant_transaction(tenant_id):
            imp = _current(import_id, gen)
            if imp is not None:
                if not _drop_first_generation_test(imp) and imp.test is not None:
                    test_actions.set_status(imp.test, ExerciseTest.Status.FAILED)  # a re-run keeps its result
                actions.fail(imp, Stage.ANALYZING, exc.problem)
        return jobs.Status.FAILED
    with tenant_transaction(tenant_id):  # 4 save
        imp = _locked(import_id)
        if imp is None or imp.finished or imp.generation != gen or imp.analyzed_generation >= gen:
            return imp.status if imp else "gone"
        test = imp.test
        latest = result_queries.latest_result(test)
        if latest is None or latest.cache_key != computed.cache_key:
            action = AnalysisAudit.Action.IMPORT if latest is None else AnalysisAudit.Action.RECOMPUTE
            result_actions.save_version(test, computed, user_id=None, action=action,
                                        changes={"import": str(imp.pk), "generation": gen})
        else:
            test_actions.record_analysis(test, latest.result)
        test_actions.fill_protocol(test, computed.result.get("protocol"))
        actions.done(imp, warnings=_analysis_warnings(computed.result))
    return jobs.Status.DONE


def _drop_first_generation_test(imp: Import) -> bool:
    """A first import that could not be analysed leaves no test behind (the upload stays for a re-run)."""
    test = imp.test
    if test is None or imp.generation != 1 or result_queries.latest_result(test):
        return False
    actions.forget_test(imp)  # first, so that the upload is not removed with the test
    test_actions.delete_test(test, reason="retention")
    return True


def _status(import_id, tenant_id: str) -> str:
    with tenant_transaction(tenant_id):
        imp = Import.objects.filter(pk=import_id).first()
        return imp.public_status if imp else "gone"


# ---- how the task wrapper ends a job ------------------------------------------------------------------------------

def give_up(import_id: str, tenant_id: str, *, reason: str) -> str:
    """The final attempt met a passing failure too: the import fails with that reason (503), nothing half-way."""
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is not None and not imp.finished:
            _drop_first_generation_test(imp)
            actions.fail(imp, imp.stage or imp.status,
                         problem(503, "unavailable", f"the import could not finish: {reason}"))
    return jobs.Status.FAILED


def crashed(import_id: str, tenant_id: str) -> None:
    """A bug, not the data: the import says so instead of staying in its stage for ever."""
    with tenant_transaction(tenant_id):
        imp = _locked(import_id)
        if imp is not None and not imp.finished:
            actions.fail(imp, imp.stage or imp.status,
                         problem(500, "internal-error", "the import failed unexpectedly; re-run it"))


def _test_date(meta: dict) -> datetime.date | None:
    """The file's test date; none when it has none (never today's silently: the reader warned, the lab enters it)."""
    value = meta.get("test_date")
    if value:
        try:
            return datetime.date.fromisoformat(str(value)[:10])
        except ValueError:
            pass
    return None


WARNED_FLAGS = ("athlete_mismatch:", "insufficient")


def _analysis_warnings(result: dict) -> list[dict]:
    """The result's flags an importing lab must see at once: another athlete's file, a test with no VO2max. Each
    {code: the flag's code, params: {}, message: "<code>: <the engine's message>"}."""
    flags = ((result or {}).get("quality") or {}).get("flags") or []
    return [{"code": str(f["code"]), "params": {}, "message": f"{f['code']}: {f.get('message') or ''}".strip()}
            for f in flags if isinstance(f, dict) and str(f.get("code") or "").startswith(WARNED_FLAGS)]
