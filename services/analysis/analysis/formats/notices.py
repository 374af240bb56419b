"""The readers' warnings, each with a stable code: the one place their codes and English texts are written.

A warning is a :class:`Note`: a ``str`` (the English text clients have always had in ``warnings``) that also carries
its ``code`` and the ``params`` filled into the text, so that a client (the console, in Russian) can say it in its own
words. The wire form (``warning_details``) is ``{code, params, message}``; the OpenAPI document lists the codes as the
``ReaderWarningCode`` enum (api.py), which the console's unit test reads to check it has a text for each.

A code names the situation, not the file format, unless only one reader can meet it. The texts keep the figures the
lab needs (which column, how many rows, the values); a new warning is a new entry here, never a bare string.
"""
from __future__ import annotations

import numbers
from typing import Any

NOTES: dict[str, str] = {
    # rows and time (assemble.py, units.parse_time_column)
    "rows_without_time": "{count} rows with values but no readable time were skipped (first at {row_word} {first})",
    "time_disorder_dropped": "{count} duplicate/backwards time stamps dropped ({repeated} repeated, {backwards} "
                             "backwards; first at {row_word} {row}: {time:g} s after {previous:g} s)",
    "time_wall_clock": "{label}: wall-clock date-times converted to seconds",
    "time_minutes": "{label}: decimal minutes converted to seconds",
    "time_day_fractions": "{label}: no unit; values below 1 read as Excel day fractions",
    "time_milliseconds": "{label}: no unit; values up to {max:.0f} with steps of ~{step:.0f} read as milliseconds",
    "time_unit_unknown": "{label}: unit '{unit}' not recognised; values read as seconds",
    # columns (assemble.py, tables.py)
    "column_empty": "{column}: column present but empty; treated as absent",
    "column_all_zero": "{column}: column is all zero; treated as absent",
    "column_ambiguous_rate": "column '{column}' is ambiguous (respiratory rate or blood pressure); not used",
    "vo2_relative_and_absolute": "two VO2 columns without units: column {relative_column} (median "
                                 "{relative_median:.1f}) read as relative mL/kg/min, column {absolute_column} "
                                 "(median {absolute_median:.0f}) as absolute",
    "mixed_expired_pressures": "PeO2/PeCO2 are mixed-expired pressures, not end-tidal; not used as PETO2/PETCO2",
    "values_unreadable": "{count} unreadable values in column '{column}' (first at line {line})",
    # units (units.py)
    "gas_header_ml_is_l": "{label}: the header says mL/min but the values (up to {max:.3g}) are L/min; converted to "
                          "mL/min",
    "gas_header_l_is_ml": "{label}: the header says L/min but the values (up to {max:.4g}) are mL/min; read as mL/min",
    "gas_no_unit_l": "{label}: no unit in the header; values up to {max:.3g} read as L/min and converted to mL/min",
    "gas_no_unit_ml": "{label}: no unit in the header; values up to {max:.4g} read as mL/min",
    "ventilation_no_unit_ml": "{label}: no unit; values above 400 read as mL/min",
    "ventilation_unit_unknown": "{label}: unit '{unit}' not recognised; read as L/min",
    "tidal_volume_no_unit_ml": "{label}: no unit; values above 15 read as mL",
    "tidal_volume_unit_unknown": "{label}: unit '{unit}' not recognised; read as L",
    "speed_no_unit": "{label}: no speed unit in the header; read as {read_as}",
    "speed_unit_unknown": "{label}: unit '{unit}' is not a speed unit; read as km/h",
    "pressure_no_unit_kpa": "{label}: no unit; values below 25 read as kPa",
    "pressure_percent": "{label}: given in % (needs barometric pressure); not used",
    "values_above_range": "suspicious values: {column} up to {max:.6g} {unit} (> {limit:g}) in {count} of {total} rows",
    "values_negative": "suspicious values: {column} has negative values (min {min:.6g}) in {count} of {total} rows",
    "values_below_range": "suspicious values: {column} has values below {limit:g} {unit} (min {min:.6g}) in {count} "
                          "of {total} rows",
    # the athlete and the test day (assemble.py, tables.py, oxynet.py)
    "no_test_date": "the export has no test date; enter the date on the test",
    "age_disagrees": "the export's age ({age:g} y) disagrees with its birth and test dates ({age_from_dates} y); the "
                     "stated age is kept",
    "body_mass_suspicious": "suspicious body mass {body_mass_kg} kg; ignored",
    "height_suspicious": "suspicious height {height_cm} cm; ignored",
    "body_mass_estimated": "body mass {body_mass_kg} kg estimated from absolute / relative VO2 (not in the export)",
    "sex_code_unknown": "Oxynet gender code {sex_code:g} is neither -1 (male) nor 1 (female); sex not set",
    # one reader each
    "zan_incomplete": "ZAN export ends without the [Start]/[Ergometer] sections; it may be incomplete",
    "exercise_clock": "time is the exercise clock (Ex Time), {offset:g} s after the recording clock (Time); {before} "
                      "rows before exercise have negative times",
    "vo2_litres_converted": "VO2 values below 10 read as L/min and converted to mL/min",
    "work_column_not_power": "column 'W' holds work/energy (see its unit), not power in watts; not used",
    # heart-rate tracks (tcx.py, heart_rate.py, engine/heart_rate.py)
    "hr_replaced_by_track": "heart rate from the cart export replaced by the TCX track",
    "hr_track_coverage_tcx": "TCX heart rate covers {coverage_pct:.0f}% of the test (check offset_s)",
    "hr_timestamps_without_zone": "time stamps without a time zone read as UTC",
    "hr_values_out_of_range": "{count} heart-rate values outside {low:g}-{high:g} bpm left out",
    "hr_weak_correlation": "HR correlates weakly with VO2 at the best offset (r = {r:.2f}): check offset_s",
    "hr_track_coverage": "the heart-rate track covers {coverage_pct:.0f} % of the test",
    # a text without a code of its own (none is left in the readers; a client shows the text as it came)
    "reader_note": "{text}",
}

CODES: tuple[str, ...] = tuple(NOTES)


def _plain(value: Any) -> Any:
    """numpy scalars as JSON numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


class Note(str):
    """A reader's warning: its English text, with `code` and `params`. Behaves as the plain text everywhere."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, **params: Any) -> "Note":
        params = {k: _plain(v) for k, v in params.items()}
        self = super().__new__(cls, NOTES[code].format(**params))  # an unknown code is a KeyError: a bug here
        self.code, self.params = code, params
        return self

    def __reduce__(self):
        return (_note, (self.code, self.params))


def _note(code: str, params: dict) -> Note:
    return Note(code, **params)


def note(code: str, **params: Any) -> Note:
    return Note(code, **params)


def detail(warning: str) -> dict[str, Any]:
    """The wire form of one warning. A plain string (none should be left) is `reader_note`, its text alone."""
    if not isinstance(warning, Note):
        warning = Note("reader_note", text=str(warning))
    return {"code": warning.code, "params": dict(warning.params), "message": str(warning)}


def details(warnings: list[str]) -> list[dict[str, Any]]:
    return [detail(w) for w in warnings]
