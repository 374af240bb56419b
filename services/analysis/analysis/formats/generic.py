"""Any other CSV/TSV/XLSX table with recognisable column labels.

Labels in English, German, Russian, Norwegian, French (see ``tables._SYNONYMS``); units from
the label ('VO2 (L/min)', 'ЧСС, уд/мин', 'Speed [m/s]') or from a units row below it;
otherwise by magnitude, with a warning. Key/value pairs above the table give body mass,
height, sex, age and test date when labelled.
"""
from __future__ import annotations

from typing import Any

from . import tables as T
from . import units as U
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "generic"


def sniff(table: T.Table) -> float:
    cmap = T.find_header(table)
    if cmap is None:
        return 0.0
    gas = {"vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm"} & cmap.targets
    return 0.3 if gas else 0.05


def read(table: T.Table, limits: Limits, *, container: str) -> ParsedExport:
    cmap = T.find_header(table)
    if cmap is None:
        raise FormatError(
            "no-header",
            "no header row with a time column and a gas-exchange/HR/load column was found "
            "(looked for labels like Time/Zeit/Время/Tid/Temps and VO2/V'O2/ПО2, HR/HF/ЧСС/FC)",
        )
    if not ({"vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "power_w", "speed_kmh"} & cmap.targets):
        raise FormatError("no-data-columns", "the table has a time column but no VO2, VCO2, VE, HR or load column")
    ex = T.extract(table, cmap, from_workbook=(container == "xlsx"))
    pairs = T.key_values(table, cmap.header_row)
    meta = _metadata(pairs)
    mapped = ", ".join(
        f"{c.label}->{t}" for t, cols in cmap.candidates.items() if t in ex.samples for c in cols[:1]
    )
    meta["format_detail"] = f"generic {container.upper()} table (header row {cmap.header_row + 1}: {mapped})"
    T.estimate_body_mass(ex, meta, ex.notes)
    return finish(FORMAT_ID, meta, ex.samples, ex.notes, limits, ex.rows)


def _metadata(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "body_mass_kg": U.finite_or_none(
            U.first_number(T.lookup(pairs, "Weight", "Weight (kg)", "Body mass", "Gewicht", "Körpergewicht",
                                    "Масса", "Вес", "Vekt", "Poids", "Masse")), 1, 500),
        "height_cm": U.finite_or_none(
            U.first_number(T.lookup(pairs, "Height", "Height (cm)", "Größe", "Рост", "Høyde", "Taille")), 1, 300),
        "sex": U.parse_sex(T.lookup(pairs, "Sex", "Gender", "Geschlecht", "Пол", "Kjønn", "Sexe")),
        "age_years": U.finite_or_none(U.first_number(T.lookup(pairs, "Age", "Alter", "Возраст", "Alder", "Âge")), 1, 120),
        "birth_date": U.parse_date(T.lookup(pairs, "Date of birth", "Birth date", "Geburtsdatum", "Дата рождения",
                                            "Fødselsdato", "Date de naissance")),
        "test_date": U.parse_date(T.lookup(pairs, "Test date", "Date", "Datum", "Testdatum", "Дата", "Dato",
                                           "Date du test")),
    }
