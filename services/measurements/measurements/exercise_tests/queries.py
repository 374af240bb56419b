"""Reads of exercise tests, samples and lactate steps as the caller may see them."""
from __future__ import annotations

from django.db.models import Avg, F
from django.db.models.functions import Floor

from servicekit.principal import ATHLETE, STAFF_ROLES, VIEWER, Principal

from ..athletes.queries import visible_athletes
from .models import SAMPLE_COLUMNS, ExerciseTest, LactateStep, Sample


def only_own_data(principal: Principal) -> bool:
    return ATHLETE in principal.roles and not principal.has_any(STAFF_ROLES | {VIEWER})


def visible_tests(principal: Principal):
    """The tenant's tests; a user whose only role is `athlete` sees just the tests of their own athlete record."""
    tests = ExerciseTest.objects.select_related("athlete")
    if only_own_data(principal):
        tests = tests.filter(athlete__in=visible_athletes(principal))
    return tests


def samples_columns(test: ExerciseTest, average_s: float | None = None) -> dict[str, list]:
    """The test's samples column-wise, in time order; with `average_s`, means over bins of that many seconds."""
    rows = Sample.objects.filter(test=test)
    if average_s:
        rows = (rows.annotate(bin=Floor(F("time_s") / float(average_s))).values("bin")
                .annotate(**{f"avg_{c}": Avg(c) for c in SAMPLE_COLUMNS}).order_by("bin")
                .values_list(*[f"avg_{c}" for c in SAMPLE_COLUMNS]))
    else:
        rows = rows.order_by("idx").values_list(*SAMPLE_COLUMNS)
    data = list(rows)
    columns = {c: [row[i] for row in data] for i, c in enumerate(SAMPLE_COLUMNS)}
    return columns


def present_columns(columns: dict[str, list]) -> dict[str, list | None]:
    """A column with no value at all is null (the analysis service's wire convention)."""
    return {c: (v if any(x is not None for x in v) else None) for c, v in columns.items()}


def lactate_steps(test: ExerciseTest):
    return LactateStep.objects.filter(test=test).order_by("stage")


def lactate_step_dicts(test: ExerciseTest) -> list[dict]:
    return [{"intensity": s.intensity, "lactate": s.lactate, "heart_rate": s.heart_rate, "rpe": s.rpe,
             "length_s": s.length_s} for s in lactate_steps(test)]
