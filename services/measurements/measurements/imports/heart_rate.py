"""Heart rate onto a test: the one home of that flow (a chest-strap or watch track uploaded beside a test).

The analysis service reads the track (FIT, TCX, CSV of time and HR) and puts it onto the test's time axis (by time
stamps when both have them, else by the given offset, else by the offset that maximises the correlation of HR with
VO2; it says which); the aligned HR becomes the test's HR channel (an empty one is filled, a recorded one is
replaced only when asked) and the result is re-derived (a new version, audited). All in the request's transaction:
the analysis refusing the track or the new samples leaves the test as it was.
"""
from __future__ import annotations

from servicekit import http
from servicekit.problems import ProblemError

from ..exercise_tests import queries as test_queries
from ..exercise_tests.models import ExerciseTest
from ..results import actions as result_actions
from ..results import analysis
from ..results.models import AnalysisAudit
from ..samples import actions as sample_actions
from . import warning_details


def add_heart_rate(test: ExerciseTest, *, user_id: str | None, filename: str, data: bytes,
                   offset_s: float | None, replace: bool) -> dict:
    """The track aligned and stored as the test's HR; returns how it was aligned and the new result version."""
    if not test.sample_count:
        raise ProblemError(409, "no-samples", "This test has no samples to put a heart rate onto; import a file first.")
    columns = test_queries.samples_columns(test)
    recorded = any(v is not None for v in columns.get("hr_bpm") or [])
    if recorded and not replace:
        raise ProblemError(409, "heart-rate-recorded", "This test already has a recorded heart rate; send "
                           "replace=true to overwrite it with the track.")
    spec = {"time_s": columns["time_s"], "vo2_ml_min": columns["vo2_ml_min"]}
    try:
        aligned = analysis.align_heart_rate(str(test.tenant_id), filename, data, spec, offset_s)
    except http.Unavailable as exc:
        raise ProblemError(503, "analysis-unavailable", f"The analysis service could not answer: {exc.detail}",
                           headers={"Retry-After": "5"}) from exc
    except http.Refused as exc:
        # the track is at fault: the analysis service's own problem (type, detail), as a 4xx for the client
        slug = str(exc.problem.get("type") or "urn:vo2:problem:unreadable-file").rsplit(":", 1)[-1]
        status = exc.problem.get("status") if exc.problem.get("status") in (400, 413, 422) else 422
        raise ProblemError(status, slug, exc.problem.get("detail") or exc.detail,
                           errors=exc.problem.get("errors")) from exc
    hr = aligned["hr_bpm"]
    if len(hr) != len(columns["time_s"]):
        raise ProblemError(502, "analysis-mismatch", "The analysis service aligned a different number of samples.")
    sample_actions.store_samples(test, {**columns, "hr_bpm": hr})
    how = {k: aligned.get(k) for k in ("format", "method", "offset_s", "correlation", "coverage")}
    row, created = result_actions.analyze_test(
        test, user_id=user_id, action=AnalysisAudit.Action.HEART_RATE,
        changes={"heart_rate": {**how, "file": filename[:200], "replaced_recorded": recorded}})
    return {"test": str(test.pk), **how, "warnings": aligned.get("warnings") or [],
            "warning_details": warning_details.reader_warnings(aligned), "replaced_recorded": recorded,
            "version": row.version if row else None, "recomputed": created}
