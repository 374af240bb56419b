"""COSMED Omnia / Quark XLSX exports (K4/K5/Quark CPET).

Top-left: a metadata block in label/value column pairs (A/B, D/E, G/H): 'ID code:' or 'ID1',
'Last name:'/'Nachname', 'Sex:'/'Geschlecht', 'Age:'/'Alter', 'Height (cm):'/'Größe (cm)',
'Weight (Kg):'/'Gewicht (kg)', 'Test date:'/'Test-Datum' (a date or a ddmmyyyy number).
To the right (column J on): the data table: a label row (t, Rf/Af, VT, VE, VO2, VCO2, ...,
HR/HF, ..., Phase, Marker, EEkc...), a units row (hh:mm:ss/s, b/min, l, l/min, ml/min, Kmh,
Watt...), an empty row, then data. Some exports (no metadata block) start with the label row.
Data may be breath-by-breath or averaged (e.g. 10 s); 0 in HR means no HR signal.
"""
from __future__ import annotations

from typing import Any

from . import tables as T
from . import units as U
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "cosmed"

_COSMED_LABELS = {T.norm_name(s) for s in ("Phase", "Marker", "EEkc", "EEh", "EEm", "EEtot", "O2exp", "CO2exp",
                                           "FetO2", "FetCO2", "FeO2", "FeCO2", "VO2/HR", "IV", "Amb. Temp.",
                                           "Umgeb. Temp.", "Analyz. Press.", "Sensordruck", "METS")}
_COSMED_META = {T.norm_name(s) for s in ("ID code:", "ID code", "ID1", "ID-Code:", "ID-Code", "Last name:",
                                         "Nachname", "Test date:", "Test-Datum", "Barometric press. (mmHg):",
                                         "Barometrischer Druck (mmHg)")}


def sniff(table: T.Table) -> float:
    cmap = T.find_header(table, max_scan=60)
    if cmap is None:
        return 0.0
    header = table[cmap.header_row]
    names = {T.norm_name(c) for c in header if isinstance(c, str)}
    score = 0.0
    if "t" in names and ("vo2" in names) and ("rf" in names or "af" in names):
        score += 0.4
    score += min(0.4, 0.1 * len(names & _COSMED_LABELS))
    first_cells = {T.norm_name(row[0]) for row in table[:10] if row and isinstance(row[0], str)}
    if first_cells & _COSMED_META:
        score += 0.2
    return min(score, 0.95)


def read(table: T.Table, limits: Limits) -> ParsedExport:
    cmap = T.find_header(table, max_scan=60)
    if cmap is None:
        raise FormatError("no-header", "COSMED export: no data table with a 't' column was found")
    # PetO2/PetCO2 (end-tidal) are used; PeO2/PeCO2 (mixed expired) are not end-tidal.
    ex = T.extract(table, cmap, from_workbook=True, speed_default="km_h")
    warnings = ex.notes
    data_col = min(c.index for cols in cmap.candidates.values() for c in cols)
    pairs = T.key_values([row[:data_col] for row in table[:30]], 30)
    meta = _metadata(pairs, ex)
    german = any(k in (T.norm_name("Nachname"), T.norm_name("Geschlecht"), T.norm_name("Test-Datum")) for k, _ in pairs) \
        or any(isinstance(c, str) and c.strip() in ("HF", "Af") for c in table[cmap.header_row])
    meta["format_detail"] = f"COSMED Omnia XLSX export ({'German' if german else 'English'} headers)" + (
        "" if pairs else ", no metadata block"
    )
    T.estimate_body_mass(ex, meta, warnings)
    return finish(FORMAT_ID, meta, ex.samples, warnings, limits, ex.rows)


def _metadata(pairs: list[tuple[str, Any]], ex: T.Extracted) -> dict[str, Any]:
    german = any(k in (T.norm_name("Nachname"), T.norm_name("Geschlecht")) for k, _ in pairs)
    age = U.first_number(T.lookup(pairs, "Age:", "Age", "Alter"))
    ergometer = T.lookup(pairs, "Ergometer", "Ergometer:")
    device = "COSMED" + (f" ({ergometer})" if isinstance(ergometer, str) and ergometer.strip() else "")
    return {
        "sex": U.parse_sex(T.lookup(pairs, "Sex:", "Sex", "Geschlecht", "Gender:")),
        "age_years": U.finite_or_none(age, 1, 120),
        "height_cm": U.finite_or_none(U.first_number(T.lookup(pairs, "Height (cm):", "Height (cm)", "Größe (cm)")), 1, 300),
        "body_mass_kg": U.finite_or_none(
            U.first_number(T.lookup(pairs, "Weight (Kg):", "Weight (kg)", "Gewicht (kg)", "Gewicht (Kg)")), 1, 500
        ),
        "birth_date": U.parse_date(T.lookup(pairs, "Date of birth:", "Date of birth", "Geburtsdatum"), day_first=True),
        "test_date": U.parse_date(T.lookup(pairs, "Test date:", "Test date", "Test-Datum"), day_first=german or True),
        "device": device,
    }

