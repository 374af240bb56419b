"""Common last step of every reader: clean the time axis, drop empty columns, flag suspicious
values, infer sampling and load kind, and build the :class:`ParsedExport`."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import units as U
from .notices import note
from .model import COLUMNS, FormatError, Limits, ParsedExport, empty_metadata

# Columns where 0 means "not measured" in cart exports (no chest strap, no ergometer link).
_ZERO_MEANS_MISSING = ("hr_bpm",)


def finish(
    format_id: str,
    metadata: dict[str, Any],
    samples: dict[str, np.ndarray],
    warnings: list[str],
    limits: Limits,
    rows: np.ndarray | None = None,
    row_word: str = "row",
) -> ParsedExport:
    meta = empty_metadata()
    meta.update({k: v for k, v in metadata.items() if v is not None or k not in meta})
    notes = list(dict.fromkeys(warnings))  # keep order, drop repeats

    time = np.asarray(samples.get("time_s", np.empty(0)), dtype=np.float64)
    n = time.shape[0]
    if n > limits.max_rows:
        raise FormatError(
            "too-many-rows", f"{n:,} data rows; the limit is {limits.max_rows:,}", status=413
        )
    if rows is None:
        rows = np.arange(1, n + 1)
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in samples.items() if k in COLUMNS}
    for k, v in cols.items():
        if v.shape[0] != n:
            raise FormatError("inconsistent-columns", f"column {k} has {v.shape[0]} values, time has {n}")
    _refuse_infinite(cols, rows, row_word)

    # Rows without a time stamp: trailing blanks are normal, others are reported.
    keep = np.isfinite(time)
    if not keep.all():
        has_values = np.zeros(n, dtype=bool)
        for k, v in cols.items():
            if k != "time_s":
                has_values |= np.isfinite(v)
        lost = int((~keep & has_values).sum())
        if lost:
            first = int(rows[np.flatnonzero(~keep & has_values)[0]])
            notes.append(note("rows_without_time", count=lost, row_word=row_word, first=first))
        cols = {k: v[keep] for k, v in cols.items()}
        rows = rows[keep]
        time = cols["time_s"]
    if time.shape[0] == 0:
        raise FormatError("no-data", "the export contains no data rows with a readable time")

    cols, rows = _monotonic(cols, rows, limits, row_word, notes)

    for k in _ZERO_MEANS_MISSING:
        if k in cols:
            v = cols[k]
            v[v == 0] = np.nan
    out: dict[str, np.ndarray] = {}
    for k in COLUMNS:
        v = cols.get(k)
        if v is None:
            continue
        if k != "time_s" and not np.isfinite(v).any():
            notes.append(note("column_empty", column=k))
            continue
        if k in ("power_w", "speed_kmh") and np.nanmax(np.abs(v)) == 0:
            notes.append(note("column_all_zero", column=k))
            continue
        out[k] = v

    notes += U.plausibility_warnings(out)
    if meta.get("sampling") is None:
        meta["sampling"], meta["averaging_seconds"] = infer_sampling(out["time_s"])
    if meta.get("load_kind") is None:
        if "speed_kmh" in out and np.nanmax(out["speed_kmh"]) > 0:
            meta["load_kind"] = "speed"
        elif "power_w" in out and np.nanmax(out["power_w"]) > 0:
            meta["load_kind"] = "power"
    if not meta.get("test_date"):
        # never today's date silently: the lab enters it on the test
        notes.append(note("no_test_date"))
    if meta.get("birth_date") and meta.get("test_date"):
        from_dates = _age(meta["birth_date"], meta["test_date"])
        if meta.get("age_years") is None:
            meta["age_years"] = from_dates
        elif from_dates is not None and abs(float(meta["age_years"]) - from_dates) > 1:
            notes.append(note("age_disagrees", age=meta["age_years"], age_from_dates=from_dates))
    if meta.get("body_mass_kg") is not None and not (20 <= meta["body_mass_kg"] <= 300):
        notes.append(note("body_mass_suspicious", body_mass_kg=meta["body_mass_kg"]))
        meta["body_mass_kg"] = None
    if meta.get("height_cm") is not None and not (80 <= meta["height_cm"] <= 250):
        notes.append(note("height_suspicious", height_cm=meta["height_cm"]))
        meta["height_cm"] = None
    return ParsedExport(format=format_id, metadata=meta, samples=out, warnings=notes)


def _refuse_infinite(cols: dict[str, np.ndarray], rows: np.ndarray, row_word: str) -> None:
    """An infinite cell ('inf', 'Infinity', '1e309', or a value that overflows when converted) is not a
    measurement and has no JSON form: the file is refused, naming the column and the row. (A cell
    spelled NaN is a missing value, like a blank or '-'.)"""
    for k in COLUMNS:
        v = cols.get(k)
        if v is None:
            continue
        bad = np.isinf(v)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FormatError(
                "non-finite-value",
                f"column {k}, {row_word} {int(rows[i])}: the value is infinite ('inf', 'Infinity' or a number "
                f"beyond the floating-point range such as 1e309); {int(bad.sum())} such cells in this column",
            )


def _monotonic(
    cols: dict[str, np.ndarray], rows: np.ndarray, limits: Limits, row_word: str, notes: list[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A few duplicate/backwards breaths are dropped with a warning; a scrambled time axis is
    refused (averaging and threshold detection would silently produce nonsense).

    Repeated stamps are tolerated more (two breaths in one whole second at high breathing
    rate) than steps backwards."""
    time = cols["time_s"]
    n = time.shape[0]
    if n < 2:
        return cols, rows
    running = np.maximum.accumulate(time)
    backwards = np.zeros(n, dtype=bool)
    repeated = np.zeros(n, dtype=bool)
    backwards[1:] = time[1:] < running[:-1]
    repeated[1:] = time[1:] == running[:-1]
    bad = backwards | repeated
    n_back, n_rep = int(backwards.sum()), int(repeated.sum())
    if n_back + n_rep == 0:
        return cols, rows
    allowed_back = max(limits.min_time_disorder_allowed, int(limits.max_time_disorder_fraction * n))
    allowed_rep = max(limits.min_time_disorder_allowed, int(limits.max_time_duplicate_fraction * n))
    i = int(np.flatnonzero(bad)[0])
    where = f"{row_word} {int(rows[i])}: {time[i]:g} s after {running[i - 1]:g} s"
    at = {"row_word": row_word, "row": int(rows[i]), "time": float(time[i]), "previous": float(running[i - 1])}
    if n_back > allowed_back or n_rep > allowed_rep:
        raise FormatError(
            "non-monotonic-time",
            f"time does not increase: {n_back} of {n} rows go backwards and {n_rep} repeat the "
            f"previous time (first at {where})",
        )
    notes.append(note("time_disorder_dropped", count=n_back + n_rep, repeated=n_rep, backwards=n_back, **at))
    keep = ~bad
    return {k: v[keep] for k, v in cols.items()}, rows[keep]


def infer_sampling(time: np.ndarray) -> tuple[str, float | None]:
    """Regular steps (COSMED 10 s, Vyntus 60 s, Oxynet 1 s) mean averaged/interpolated data;
    irregular steps are breath-by-breath."""
    if time.shape[0] < 3:
        return "breath-by-breath", None
    steps = np.diff(time)
    median = float(np.median(steps))
    if median <= 0:
        return "breath-by-breath", None
    regular = np.mean(np.abs(steps - median) <= 0.05 * median + 1e-9)
    if regular >= 0.8:
        return "averaged", round(median, 3)
    return "breath-by-breath", None


def _age(birth: str, test: str) -> int | None:
    import datetime as dt

    try:
        b, t = dt.date.fromisoformat(birth), dt.date.fromisoformat(test)
    except ValueError:
        return None
    years = t.year - b.year - ((t.month, t.day) < (b.month, b.day))
    return years if 0 <= years <= 120 else None
