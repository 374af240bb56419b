"""Oxynet / pyoxynet CSV layouts.

 * 1-s interpolated test (``data_test.csv``): time, VO2_I, VCO2_I, VE_I, HR_I, RF_I, PetO2_I,
   PetCO2_I, VEVO2_I, VEVCO2_I, plus per-row subject columns age, height (m), weight (kg),
   gender (-1 male / 1 female), age_group, fitness_group. VO2/VCO2 mL/min, VE L/min, pressures mmHg.
 * Breath-by-breath app export: t, VE, VO2, VCO2, R, VE/VO2, VE/VCO2, PetO2, PetCO2
   (t negative during the pre-ramp baseline).
"""
from __future__ import annotations

import numpy as np

from . import tables as T
from . import units as U
from .notices import note
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "oxynet"

_INTERPOLATED = {T.norm_name(s) for s in ("VO2_I", "VCO2_I", "VE_I", "HR_I", "RF_I", "PetO2_I", "PetCO2_I",
                                          "VEVO2_I", "VEVCO2_I")}
_BBB = ["t", "VE", "VO2", "VCO2", "R", "VE/VO2", "VE/VCO2", "PetO2", "PetCO2"]
_BBB_NORM = [T.norm_name(s) for s in _BBB]


def _header(table: T.Table) -> list[str]:
    if not table:
        return []
    return [T.norm_name(c) for c in table[0] if isinstance(c, str)]


def sniff(table: T.Table) -> float:
    names = _header(table)
    if len(set(names) & _INTERPOLATED) >= 4:
        return 0.95
    if names[: len(_BBB_NORM)] == _BBB_NORM:
        return 0.8
    return 0.0


def read(table: T.Table, limits: Limits) -> ParsedExport:
    cmap = T.find_header(table, max_scan=3)
    if cmap is None:
        raise FormatError("no-header", "Oxynet CSV: no header row with a time column")
    names = _header(table)
    interpolated = len(set(names) & _INTERPOLATED) >= 4
    # Oxynet files carry no units; these are the documented ones (checked by magnitude below).
    for target, unit in (("vo2_ml_min", "ml/min"), ("vco2_ml_min", "ml/min"), ("ve_l_min", "l/min")):
        col = cmap.first(target)
        if col is not None and col.unit is None:
            col.unit = unit
    ex = T.extract(table, cmap, from_workbook=False)
    warnings = ex.notes
    vo2 = ex.samples.get("vo2_ml_min")
    if vo2 is not None and np.isfinite(vo2).any() and np.nanmax(vo2) < 10:
        ex.samples["vo2_ml_min"] = vo2 * 1000.0
        warnings.append(note("vo2_litres_converted"))
    meta: dict = {"device": None}
    if interpolated:
        meta["sampling"] = "averaged"
        meta["format_detail"] = "Oxynet CSV, 1-s interpolated signals (*_I columns)"
        header = table[0]

        def subject(name: str) -> float:
            for i, c in enumerate(header):
                if isinstance(c, str) and c.strip().lower() == name:
                    v = T.numeric_column(table, T.Column(i, c, None), 1)
                    v = v[np.isfinite(v)]
                    return float(v[0]) if v.size else float("nan")
            return float("nan")

        height = subject("height")
        if height == height and height < 3:  # metres in Oxynet
            height *= 100.0
        meta["height_cm"] = U.finite_or_none(round(height, 1), 50, 250)
        meta["body_mass_kg"] = U.finite_or_none(subject("weight"), 20, 300)
        meta["age_years"] = U.finite_or_none(subject("age"), 1, 120)
        gender = subject("gender")
        # Oxynet coding (testdata/cpet/oxynet_labelled/README.md): -1 male, 1 female
        meta["sex"] = {-1.0: "male", 1.0: "female"}.get(gender)
        if gender == gender and meta["sex"] is None:
            warnings.append(note("sex_code_unknown", sex_code=gender))
    else:
        meta["sampling"] = "breath-by-breath"
        meta["format_detail"] = "Oxynet breath-by-breath CSV (t, VE, VO2, VCO2, R, ...)"
    result = finish(FORMAT_ID, meta, ex.samples, warnings, limits, ex.rows)
    if interpolated and result.metadata.get("averaging_seconds") is None:
        result.metadata["averaging_seconds"] = 1.0
    return result
