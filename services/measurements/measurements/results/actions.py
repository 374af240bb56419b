"""Writes of analysis results: ask the analysis service once per result, store a new version with its audit row and
the `measurements.test.analyzed` event; merge and check the physiologist's overrides; replace lactate steps and
re-derive. A recompute happens only when its cache key changes.

Request-time actions (`override`, `replace_lactate_steps`) answer problems a client can act on: 503
`analysis-unavailable` (try again) and 422 `analysis-refused` (the data or override is at fault). The import
flow uses `gather` / `call_analysis` / `save_version` in its own transactions.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction

from servicekit import http, jobs
from servicekit.problems import ProblemError
from servicekit.tenancy import tenant_transaction

from .. import events
from ..exercise_tests import actions as test_actions
from ..exercise_tests import queries as test_queries
from ..exercise_tests.models import ExerciseTest
from . import analysis, queries
from .models import AnalysisAudit, AnalysisResult, AnalysisSettings


@dataclass
class Computed:
    result: dict
    lactate: dict | None
    engine_version: str
    cache_key: str
    overrides: dict


def inputs_key(test: ExerciseTest, overrides: dict) -> str:
    """The cache key this test would have now, assuming the engine of the latest stored result."""
    latest = queries.latest_result(test)
    return queries.cache_key(test, overrides, test_queries.lactate_step_dicts(test), queries.athlete_inputs(test),
                             latest.engine_version if latest else "")


@dataclass
class Inputs:
    tenant_id: str
    samples: dict | None
    athlete: dict
    steps: list[dict]
    sport: str
    overrides: dict
    data_key: tuple  # (test, overrides, steps, athlete) for the cache key


def gather(test: ExerciseTest, overrides: dict, samples: dict | None = None) -> Inputs:
    """Read what the analysis needs (inside the tenant's transaction). `samples` saves a read when in memory."""
    if samples is None and test.sample_count:
        samples = test_queries.present_columns(test_queries.samples_columns(test))
    steps = test_queries.lactate_step_dicts(test)
    athlete = queries.athlete_inputs(test)
    return Inputs(str(test.tenant_id), samples, athlete, steps, athlete["sport"], overrides,
                  (test, overrides, steps, athlete))


def call_analysis(inputs: Inputs) -> Computed:
    """Ask the analysis service once (no database access: background jobs call it outside a transaction).

    With samples, one `/cpet` request carries the lactate steps too and its answer holds their thresholds
    (`result["lactate"]`). A test with lactate steps but no samples asks `/lactate` alone. Both are told the sport of
    the test's recorded modality (queries.sport_of), its one source."""
    steps = [{"intensity": s["intensity"], "lactate": s["lactate"], "heart_rate": s["heart_rate"],
              "length": (s["length_s"] / 60.0) if s["length_s"] else None}
             for s in inputs.steps if s["intensity"] is not None and s["lactate"] is not None]
    result: dict = {}
    lactate = None
    if inputs.samples:
        result = analysis.cpet(inputs.tenant_id, inputs.samples, inputs.athlete, inputs.overrides, steps or None)
        lactate = result.get("lactate")
    elif len(steps) >= 3:
        lactate = analysis.lactate(inputs.tenant_id, steps, sport=inputs.sport)
    engine = str(result.get("engine_version") or (lactate or {}).get("engine_version") or "")
    return Computed(result, lactate, engine, queries.cache_key(*inputs.data_key, engine), inputs.overrides)


def compute(test: ExerciseTest, overrides: dict, samples: dict | None = None) -> Computed:
    return call_analysis(gather(test, overrides, samples))


def save_version(test: ExerciseTest, computed: Computed, *, user_id: str | None, action: str,
                 changes: dict | None = None) -> AnalysisResult:
    # the test's row first, then its results: every writer takes them in this order (an edit of the test updates
    # its row, then stores a new version here), so no two wait for each other. Locking the result first and the
    # test at record_analysis below deadlocked with a concurrent edit (PostgreSQL aborted one: a 503).
    jobs.lock(ExerciseTest, test.pk)
    latest = AnalysisResult.objects.select_for_update().filter(test=test).order_by("-version").first()
    version = (latest.version + 1) if latest else 1
    row = AnalysisResult.objects.create(
        tenant_id=test.tenant_id, test=test, version=version, result=computed.result, lactate=computed.lactate,
        overrides=computed.overrides, engine_version=computed.engine_version, cache_key=computed.cache_key,
        computed_by=user_id)
    AnalysisAudit.objects.create(tenant_id=test.tenant_id, test=test, version=version, action=action,
                                 user_id=user_id, changes=changes or {})
    test_actions.record_analysis(test, row.result)
    vo2max = row.result.get("vo2max") or {}
    events.emit(events.TEST_ANALYZED, {
        "test_id": str(test.pk), "athlete_id": str(test.athlete_id), "result_id": str(row.pk), "revision": version,
        "engine_version": row.engine_version[:50], "vo2max_ml_kg_min": vo2max.get("vo2_ml_kg_min"),
        "vo2max_ml_min": vo2max.get("vo2_ml_min"),
        "vt1_vo2_ml_kg_min": (row.result.get("vt1") or {}).get("vo2_ml_kg_min"),
        "vt2_vo2_ml_kg_min": (row.result.get("vt2") or {}).get("vo2_ml_kg_min"),
        "overridden": any(k in (row.overrides or {}) for k in ("vt1", "vt2", "vo2max", "exclude")),
        "quality_flags": [f.get("code") for f in ((row.result.get("quality") or {}).get("flags") or [])
                          if isinstance(f, dict) and f.get("code")],
        "requested_by": str(user_id) if user_id else None, "reason": action,
    }, tenant_id=str(test.tenant_id), subject=str(test.pk))
    return row


def analyze_test(test: ExerciseTest, *, user_id: str | None, action: str, overrides: dict | None = None,
                 changes: dict | None = None, force: bool = False) -> tuple[AnalysisResult | None, bool]:
    """Recompute and store a new version if anything it depends on changed; returns (current row, created?)."""
    latest = queries.latest_result(test)
    if overrides is None:
        overrides = dict(latest.overrides) if latest else {}
    if latest and not force and inputs_key(test, overrides) == latest.cache_key:
        return latest, False
    computed = compute(test, overrides)
    if not computed.result and computed.lactate is None:
        return latest, False  # nothing to analyse (no samples, fewer than 3 lactate steps)
    if latest and computed.cache_key == latest.cache_key:
        return latest, False  # same data, overrides and engine: nothing new to store
    return save_version(test, computed, user_id=user_id, action=action, changes=changes), True


# ---- request-time changes ---------------------------------------------------------------------------------------

@contextmanager
def _asking_analysis():
    """The analysis service's failures as problems for the client who asked for the change."""
    try:
        yield
    except http.Unavailable as exc:
        raise ProblemError(503, "analysis-unavailable", f"The analysis service could not answer: {exc.detail}",
                           headers={"Retry-After": "5"}) from exc
    except http.Refused as exc:
        if str(exc.problem.get("type") or "").endswith(":invalid-override"):
            # the analysis checked the override against the test: the field and the allowed range, nothing stored
            raise ProblemError(422, "invalid-override", exc.problem.get("detail") or exc.detail,
                               errors=exc.problem.get("errors")) from exc
        raise ProblemError(422, "analysis-refused", exc.problem.get("detail") or exc.detail,
                           errors=exc.problem.get("errors")) from exc


def merged_overrides(before: dict, thresholds: dict | None, exclude: list | None) -> dict:
    """The stored overrides with a PATCH applied: a threshold set to null is dropped, one given replaces the old;
    `exclude` (time windows) replaces the old list, an empty one removes it."""
    after = dict(before)
    for name, value in (thresholds or {}).items():
        if value is None:
            after.pop(name, None)
        else:
            after[name] = dict(value)
    if exclude is not None:
        windows = [sorted(pair) for pair in exclude]
        if windows:
            after["exclude"] = windows
        else:
            after.pop("exclude", None)
    return after


def override(test_id, *, tenant_id: str, user_id: str | None, thresholds: dict | None = None,
             exclude: list | None = None, reason: str | None = None,
             recompute_only: bool = False, expected_version: int | None = None) -> tuple[AnalysisResult, bool]:
    """The physiologist's VT1/VT2 (and excluded windows): merged with the stored ones and re-derived (zones follow).
    Returns (current result, recomputed?).

    Called outside the request's transaction (the view is non-atomic): the overrides are merged and the inputs
    read in one short tenant transaction, the analysis service is asked with no transaction open (it may take
    seconds), and the new version is stored in a second one, if what it was computed from is still what is stored
    (otherwise 409 `analysis-conflict`: the test changed meanwhile, ask again). Nothing is stored when the
    analysis cannot answer or refuses. `expected_version`: the version the caller's If-Match named; another
    version current when the new one would be stored is the 412 `precondition-failed`."""
    with tenant_transaction(tenant_id):
        test = _test(test_id)
        if not test.sample_count:
            raise ProblemError(409, "no-samples", "This test has no samples to analyse; import a file first.")
        latest = queries.latest_result(test)
        before = dict(latest.overrides) if latest else {}
        after = merged_overrides(before, thresholds, exclude)
        if latest and inputs_key(test, after) == latest.cache_key:
            return latest, False
        inputs = gather(test, after)
    with _asking_analysis():
        computed = call_analysis(inputs)
    with tenant_transaction(tenant_id):
        test = _test(test_id)
        current = queries.latest_result(test)
        if expected_version is not None and (current.version if current else None) != expected_version:
            raise ProblemError(412, "precondition-failed", "The analysis changed since the version If-Match named; "
                               "read it again and send the change against that.",
                               errors=[{"field": "If-Match", "detail": "not the current ETag"}])
        if current and current.cache_key == computed.cache_key:
            return current, False  # a concurrent request stored this very result
        now = queries.cache_key(test, after, test_queries.lactate_step_dicts(test), queries.athlete_inputs(test),
                                computed.engine_version)
        if now != computed.cache_key:
            raise ProblemError(409, "analysis-conflict", "The test's data changed while its analysis was computed; "
                               "send the change again.")
        changes = {"overrides": {"before": before, "after": after}}
        if reason:
            changes["reason"] = reason
        action = AnalysisAudit.Action.RECOMPUTE if recompute_only else AnalysisAudit.Action.OVERRIDE
        return save_version(test, computed, user_id=user_id, action=action, changes=changes), True


@test_actions.before_test_deleted
def _anonymise_the_tests_audit(test: ExerciseTest, by: str | None, reason: str) -> None:
    """The audit keeps who changed an analysis and when, but no longer names the test or holds its values."""
    AnalysisAudit.objects.filter(test=test).update(test=None, changes={})


@test_actions.after_inputs_changed
def _reanalyse_on_new_inputs(test: ExerciseTest, changes: dict, user_id: str | None) -> None:
    """The declared protocol (or date, modality, the day's body mass) changed: a new version computed from it, in
    the updating transaction (the analysis refusing it undoes the edit: nothing half-way)."""
    if not test.sample_count:
        return
    with _asking_analysis():
        analyze_test(test, user_id=user_id, action=AnalysisAudit.Action.PROTOCOL, changes={"test": changes})


def _test(test_id) -> ExerciseTest:
    test = ExerciseTest.objects.select_related("athlete").filter(pk=test_id).first()
    if test is None:  # deleted meanwhile
        raise ProblemError(404, "not-found", "No such test.")
    return test


def replace_lactate_steps(test: ExerciseTest, steps: list[dict], *, user_id: str | None) -> AnalysisResult | None:
    """New lactate steps for the test, and the result re-derived with them (lactate thresholds, VO2max criteria)."""
    before = test_queries.lactate_step_dicts(test)
    test_actions.replace_lactate_steps(test, steps)
    with _asking_analysis():
        row, _ = analyze_test(test, user_id=user_id, action=AnalysisAudit.Action.LACTATE,
                              changes={"lactate_steps": {"before": before,
                                                         "after": test_queries.lactate_step_dicts(test)}})
    return row


@transaction.atomic
def save_settings(tenant_id, *, by: str | None, **values) -> AnalysisSettings:
    """The tenant's analysis defaults (what a PUT leaves out is reset to the default)."""
    outliers = dict(values.get("outliers") or {})
    if outliers.get("method") == "none":
        outliers = {}
    # locked until the request commits, made at the first write; two first writes at once: the second insert fails
    # on the one-per-tenant constraint and get_or_create reads the first's row (a plain insert: a 500)
    row, _ = AnalysisSettings.objects.select_for_update().get_or_create(tenant_id=tenant_id)
    row.averaging = dict(values.get("averaging") or {})
    row.outliers = outliers
    row.zone_model = values.get("zone_model") or AnalysisSettings.ZoneModel.FIVE_ZONE
    row.meaningful_change_pct = values.get("meaningful_change_pct")
    row.updated_by = by
    row.save()
    return row
