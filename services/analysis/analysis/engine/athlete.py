"""Who was tested: the values the analysis uses, and whether the file's athlete is the one on record.

Body mass: the request's (the lab weighed the athlete that day), else the file's, else the record's,
because mass changes between tests. Sex and age: the request's, else the record's (the person), else
the file's. The file's sex, body mass (beyond +-5 %) and age (more than a year apart, or another birth
date) are compared with the record: a mismatch is a quality flag `athlete_mismatch:<what>`.
"""
from __future__ import annotations

import datetime as dt
import math

from . import quality

MASS_TOLERANCE = 0.05
AGE_TOLERANCE_Y = 1.0


def _mass(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and 10 <= f <= 400 else None


def _sex(v) -> str | None:
    return v if v in ("male", "female") else None


def _date(v) -> dt.date | None:
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def _age_at(birth: dt.date | None, on: dt.date | None) -> float | None:
    if birth is None:
        return None
    on = on or dt.date.today()  # an undated test: its age is today's, only for comparison and norms
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return float(years) if 0 <= years <= 120 else None


def _age(d: dict, test_date: dt.date | None) -> float | None:
    a = d.get("age") if d.get("age") is not None else d.get("age_years")
    try:
        a = float(a) if a is not None else None
    except (TypeError, ValueError):
        a = None
    if a is not None and math.isfinite(a) and 0 < a <= 120:
        return a
    return _age_at(_date(d.get("birth_date")), test_date)


def resolve(request: dict | None, file: dict | None, record: dict | None, test_date=None,
            flags: list | None = None) -> tuple[dict, dict]:
    """(athlete for the engine {body_mass_kg, age, sex}, summary for the result with sources and mismatches)."""
    request, file, record = (d if isinstance(d, dict) else {} for d in (request, file, record))
    flags = flags if flags is not None else []
    on = _date(test_date) or _date(file.get("test_date"))
    mismatches: list[str] = []
    if request.get("body_mass_kg") is not None and _mass(request.get("body_mass_kg")) is None:
        quality.flag(flags, "body_mass_invalid", "body mass outside 10-400 kg ignored")

    def first(*pairs):
        for source, value in pairs:
            if value is not None:
                return value, source
        return None, None

    mass, mass_src = first(("request", _mass(request.get("body_mass_kg"))), ("file", _mass(file.get("body_mass_kg"))),
                           ("record", _mass(record.get("body_mass_kg"))))
    sex, sex_src = first(("request", _sex(request.get("sex"))), ("record", _sex(record.get("sex"))),
                         ("file", _sex(file.get("sex"))))
    age, age_src = first(("request", _age(request, on)), ("record", _age(record, on)), ("file", _age(file, on)))

    fs, rs = _sex(file.get("sex")), _sex(record.get("sex"))
    if fs and rs and fs != rs:
        mismatches.append("sex")
        quality.flag(flags, "athlete_mismatch:sex", f"the file's athlete is {fs}, the athlete on record is {rs}")
    fm, rm = _mass(file.get("body_mass_kg")), _mass(record.get("body_mass_kg"))
    if fm and rm and abs(fm - rm) > MASS_TOLERANCE * rm:
        mismatches.append("body_mass")
        quality.flag(flags, "athlete_mismatch:body_mass",
                     f"the file's body mass {fm:g} kg differs from the record's {rm:g} kg by more than "
                     f"{100 * MASS_TOLERANCE:.0f} %")
    fb, rb = _date(file.get("birth_date")), _date(record.get("birth_date"))
    fa, ra = _age(file, on), _age(record, on)
    if (fb and rb and fb != rb) or (fa is not None and ra is not None and abs(fa - ra) > AGE_TOLERANCE_Y):
        mismatches.append("age")
        what = f"birth date {fb} vs {rb}" if (fb and rb and fb != rb) else f"age {fa:g} vs {ra:g} y"
        quality.flag(flags, "athlete_mismatch:age", f"the file's athlete and the record disagree: {what}")
    used = {"body_mass_kg": mass, "age": age, "sex": sex}
    summary = {"body_mass_kg": mass, "body_mass_source": mass_src, "sex": sex, "sex_source": sex_src,
               "age_years": age, "age_source": age_src, "mismatches": mismatches}
    return used, summary
