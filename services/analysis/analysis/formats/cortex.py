"""CORTEX MetaLyzer / MetaSoft Studio exports.

Two containers, same sheet layout: Excel-2003 SpreadsheetML XML (``<Workbook>``) or XLSX.
A patient block (Stammdaten / Patient data: Geschlecht, Geburtsdatum, Größe '178 cm',
Gewicht '74,8kg' with decimal comma), often a summary table (Kanal/Einheit/Ruhe/VT1/...),
then the breath table: a label row (t, V'O2 (STPD), V'CO2, V'E (BTPS), VT, AF, HF, P/W, ...),
a units row (h:mm:ss or hh:mm:ss.z, L/min, ...), then one row per breath.
Time cells are text like '0:00:09' or '00:00:04,8'. VO2 is usually L/min (checked per unit row).
"""
from __future__ import annotations

from typing import Any

from . import tables as T
from . import units as U
from .notices import note
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "cortex"

_CORTEX_BLOCKS = {
    T.norm_name(s)
    for s in ("Stammdaten", "Administrative Data", "Patient data", "Biologische und Medizinische Daten",
              "Biological and medical data", "Spiroergometrie-Gerät", "MetaSoft Studio", "Kanal")
}


def sniff_xml(head: str) -> float:
    if "urn:schemas-microsoft-com:office:spreadsheet" not in head[:5000]:
        return 0.0
    if "Metasoft" in head or "MetaSoft" in head or "Stammdaten" in head or "Administrative Data" in head:
        return 1.0
    return 0.4


def sniff(table: T.Table) -> float:
    score = 0.0
    cmap = T.find_header(table)
    for row in table[: (cmap.header_row if cmap else 80)]:
        if any(isinstance(c, str) and T.norm_name(c) in _CORTEX_BLOCKS for c in row[:4]):
            score += 0.4
            break
    if cmap is None:
        return 0.0
    header = table[cmap.header_row]
    labels = [c for c in header if isinstance(c, str)]
    apostrophe = sum(1 for c in labels if c.strip().startswith(("V'", "V’")))
    first = str(header[0]).strip() if header else ""
    unit0 = ""
    if cmap.units_row is not None and table[cmap.units_row]:
        unit0 = str(table[cmap.units_row][0] or "").strip().lower()
    if first == "t" and apostrophe >= 2:
        score += 0.4
    if unit0 in ("h:mm:ss", "hh:mm:ss.z", "hh:mm:ss,z", "hh:mm:ss", "h:mm:ss.z"):
        score += 0.2
    return min(score, 0.95)


def read(table: T.Table, limits: Limits, *, container: str) -> ParsedExport:
    cmap = T.find_header(table)
    if cmap is None:
        raise FormatError("no-header", "CORTEX export: no breath table with a 't' column was found")
    ex = T.extract(table, cmap, from_workbook=(container == "xlsx"))
    warnings = ex.notes
    pairs = T.key_values(table, cmap.header_row)
    meta = _metadata(pairs)
    lang = "German" if any(k in ("stammdaten", "geschlecht", "gewicht") for k, _ in pairs) or any(
        isinstance(c, str) and c.strip() == "HF" for c in table[cmap.header_row]
    ) else "English"
    meta["format_detail"] = (
        f"CORTEX MetaSoft {'SpreadsheetML XML' if container == 'xml' else 'XLSX'} export "
        f"({lang} labels)"
    )
    if "power_w" not in ex.samples and any(
        isinstance(c, str) and c.strip() == "W" for c in table[cmap.header_row]
    ):
        warnings.append(note("work_column_not_power"))
    return finish(FORMAT_ID, meta, ex.samples, warnings, limits, ex.rows)


def _metadata(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    sex = T.lookup(pairs, "Geschlecht", "Sex", "Gender")
    birth = T.lookup(pairs, "Geburtsdatum", "Date of Birth", "Birth date")
    height = U.first_number(T.lookup(pairs, "Größe", "Height"))
    mass = U.first_number(T.lookup(pairs, "Gewicht", "Weight"))
    start = T.lookup(pairs, "Startzeit", "Start time", "Test date", "Testdatum", "Datum")
    device = T.lookup(pairs, "Spiroergometrie-Gerät", "Metabolic cart", "Device", "CPET device")
    return {
        "sex": U.parse_sex(sex),
        "birth_date": U.parse_date(birth),
        "height_cm": U.finite_or_none(height, 1, 300),
        "body_mass_kg": U.finite_or_none(mass, 1, 500),
        "test_date": U.parse_date(start),
        "device": f"CORTEX {device}".strip() if isinstance(device, str) and device.strip() else "CORTEX",
    }
