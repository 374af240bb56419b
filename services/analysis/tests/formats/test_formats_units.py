"""Units and header languages: read from the export, converted, never assumed silently."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import formats_testdata  # noqa: F401  (puts services/analysis on sys.path)
from analysis.formats import FormatError, read_export
from analysis.formats import units as U


@pytest.mark.parametrize(
    "text, seconds",
    [("1:30", 90), ("0:14", 14), ("12:05", 725), ("0:01:02", 62), ("00:00:04,8", 4.8),
     ("00:29:16.0", 1756.0), (" 00:56", 56), ("1:00:00", 3600), ("-0:30", -30)],
)
def test_clock_strings(text, seconds):
    assert U.clock_to_seconds(text) == pytest.approx(seconds)


def test_time_column_kinds():
    t, notes = U.parse_time_column([dt.time(0, 0, 30), dt.time(0, 1, 10)], None, from_workbook=True)
    assert list(t) == [30, 70] and notes == []
    t, notes = U.parse_time_column([0.5 / 1440, 1.5 / 1440, 2.5 / 1440], None, from_workbook=True)
    assert np.allclose(t, [30, 90, 150]) and "day fractions" in notes[0]
    t, _ = U.parse_time_column(["3435", "7248"], "ms", from_workbook=False)
    assert list(t) == [3.435, 7.248]
    t, notes = U.parse_time_column([1.5, 2.0], "min", from_workbook=False)
    assert list(t) == [90, 120] and notes
    t, notes = U.parse_time_column([3435.0, 7248.0, 20000.0, 30000.0, 2990088.0], None, from_workbook=False)
    assert t[-1] == pytest.approx(2990.088) and "milliseconds" in notes[0]
    t, _ = U.parse_time_column([dt.timedelta(minutes=2)], None, from_workbook=True)
    assert list(t) == [120]
    t, _ = U.parse_time_column(
        [dt.datetime(2020, 1, 1, 23, 59, 50), dt.datetime(2020, 1, 2, 0, 0, 5)], None, from_workbook=True
    )
    assert t[1] - t[0] == 15  # wraps past midnight


def test_gas_flow_units():
    v, notes = U.gas_flow_to_ml_min(np.array([0.5, 3.2]), "L/min", "VO2")
    assert list(v) == [500, 3200] and notes == []
    v, notes = U.gas_flow_to_ml_min(np.array([500.0, 3200.0]), "(mL/min)", "VO2")
    assert list(v) == [500, 3200] and notes == []
    v, notes = U.gas_flow_to_ml_min(np.array([0.5, 4.1]), None, "VO2")
    assert list(v) == [500, 4100] and "L/min" in notes[0]
    v, notes = U.gas_flow_to_ml_min(np.array([500.0, 4100.0]), None, "VO2")
    assert list(v) == [500, 4100] and "mL/min" in notes[0]


def test_speed_units():
    assert U.speed_to_kmh(np.array([5.2]), "m/s", "v")[0][0] == pytest.approx(18.72)
    assert U.speed_to_kmh(np.array([10.0]), "(MPH)", "v")[0][0] == pytest.approx(16.09344)
    assert U.speed_to_kmh(np.array([120.0]), "Kmh*10", "v")[0][0] == pytest.approx(12.0)
    assert U.speed_to_kmh(np.array([12.0]), "km/h", "v") == (pytest.approx(np.array([12.0])), [])
    v, notes = U.speed_to_kmh(np.array([12.0]), None, "v")
    assert v[0] == 12 and "no speed unit" in notes[0]


def test_other_units():
    assert U.tidal_volume_to_l(np.array([1877.0]), "(mL)", "Vt")[0][0] == pytest.approx(1.877)
    assert U.tidal_volume_to_l(np.array([1.8]), "L(btps)", "VT")[0][0] == pytest.approx(1.8)
    assert U.pressure_to_mmhg(np.array([5.0]), "kPa", "PetCO2")[0][0] == pytest.approx(37.503, abs=0.01)
    assert U.unit_kind("mL/min/Kg") == "relative"
    assert U.unit_kind("(ml/min)/kg") == "relative"
    assert U.unit_kind("мл/мин") == "ml_min"
    assert U.unit_kind("kcal") == "energy"


@pytest.mark.parametrize(
    "label, name, unit",
    [("VO2 (mL/min)", "VO2", "mL/min"), ("Speed [km/h]", "Speed", "km/h"), ("ЧСС, уд/мин", "ЧСС", "уд/мин"),
     ("VO2 мл/мин", "VO2", "мл/мин"), ("V'O2 (STPD)", "V'O2 (STPD)", None), ("Leistung (W)", "Leistung", "W")],
)
def test_split_label(label, name, unit):
    assert U.split_label(label) == (name, unit)


def test_decimal_comma_and_dates():
    assert U.to_float("74,8") == 74.8 and U.to_float(" - ") != U.to_float(" - ")
    assert U.first_number("74,8kg") == 74.8 and U.first_number("178 cm") == 178
    assert U.parse_date("11.11.1980") == "1980-11-11"
    assert U.parse_date("19.04.2019 02:49") == "2019-04-19"
    assert U.parse_date(13011987.0) == "1987-01-13"
    assert U.parse_sex("männlich") == "male" and U.parse_sex("W") == "female" and U.parse_sex("?") is None


# ------------------------------------------------------------------ generic tables, languages


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def test_russian_semicolon_decimal_comma():
    data = _csv(
        "Время;ПО2, мл/мин;ЧСС, уд/мин;Скорость, км/ч;Мощность, Вт\n"
        "0:10;1200,5;100;8,0;0\n0:15;1300,0;104;8,5;50\n0:21;1410,0;108;9,0;100\n"
    )
    p = read_export(data, "test.csv")
    assert p.format == "generic"
    s = p.samples
    assert list(s["time_s"]) == [10, 15, 21]
    assert list(s["vo2_ml_min"]) == [1200.5, 1300, 1410]
    assert list(s["speed_kmh"]) == [8.0, 8.5, 9.0]
    assert list(s["power_w"]) == [0, 50, 100]
    assert list(s["hr_bpm"]) == [100, 104, 108]


def test_german_tab_litres_latin1():
    data = _csv(
        "Gewicht\t72,5 kg\nGeschlecht\tweiblich\n\n"
        "Zeit (s)\tV'O2 (L/min)\tV'CO2 (L/min)\tHF\tLeistung (W)\tGeschw. (m/s)\n"
        "10\t0,45\t0,40\t80\t0\t0\n20\t1,20\t1,05\t95\t50\t0\n30\t1,80\t1,70\t110\t100\t0\n",
        "latin-1",
    )
    p = read_export(data)
    assert p.format == "generic"
    assert p.metadata["body_mass_kg"] == 72.5 and p.metadata["sex"] == "female"
    assert list(p.samples["vo2_ml_min"]) == [450, 1200, 1800]
    assert list(p.samples["vco2_ml_min"]) == [400, 1050, 1700]
    assert p.metadata["load_kind"] == "power"
    assert "speed_kmh" not in p.samples  # all zero


def test_norwegian_and_french_headers_utf16_and_bom():
    no = "Tid;VO2 ml/min;Puls;Hastighet (m/s)\n00:30;800;90;2,5\n01:00;1500;120;3,0\n01:30;2100;140;3,5\n"
    p = read_export(no.encode("utf-16"))  # with BOM
    assert p.format == "generic"
    assert list(p.samples["speed_kmh"]) == pytest.approx([9.0, 10.8, 12.6])
    assert list(p.samples["hr_bpm"]) == [90, 120, 140]
    fr = "Temps,VO2 (L/min),FC,Vitesse (km/h),Puissance (W)\n10,0.5,90,8,0\n20,1.5,120,9,100\n30,2.5,150,10,200\n"
    q = read_export(b"\xef\xbb\xbf" + fr.encode())
    assert list(q.samples["vo2_ml_min"]) == [500, 1500, 2500]
    assert list(q.samples["power_w"]) == [0, 100, 200]
    assert q.metadata["load_kind"] == "speed"


def test_relative_vo2_is_never_taken_as_absolute():
    data = b"time,VO2 (mL/kg/min),HR\n10,10.5,90\n20,20.1,110\n30,35.2,130\n"
    p = read_export(data)
    assert "vo2_ml_min" not in p.samples
    assert list(p.samples["hr_bpm"]) == [90, 110, 130]
    data2 = b"time,VO2/kg,VO2,HR\n10,10.5,700,90\n20,20.1,1400,110\n30,35.2,2450,130\n"
    q = read_export(data2)
    assert list(q.samples["vo2_ml_min"]) == [700, 1400, 2450]


def test_speed_column_in_mph_and_power_column_with_speed_unit():
    data = b"Time,VO2 (mL/min),Speed (mph),Load (km/h)\n0:10,500,3.0,4.8\n0:20,900,4.0,6.4\n0:30,1200,5.0,8.0\n"
    p = read_export(data)
    assert p.samples["speed_kmh"][0] == pytest.approx(3.0 * 1.609344)  # first speed column wins


def test_suspicious_values_are_warnings_not_errors():
    data = b"t,VO2 (mL/min),HR\n1,9000,300\n2,-5,100\n3,1000,120\n"
    p = read_export(data)
    w = " | ".join(p.warnings)
    assert "vo2_ml_min up to 9000" in w and "hr_bpm up to 300" in w and "negative" in w
    assert p.samples["vo2_ml_min"][0] == 9000  # not altered


def test_table_without_time_or_gas_columns_is_refused():
    with pytest.raises(FormatError) as err:
        read_export(b"a,b,c\n1,2,3\n4,5,6\n")
    assert err.value.slug == "unknown-format"
    with pytest.raises(FormatError) as err:
        read_export(b"time,notes\n1,x\n2,y\n")
    assert err.value.slug == "unknown-format"
    with pytest.raises(FormatError) as err:
        read_export(b"time,grade\n1,0\n2,1\n")
    assert err.value.slug == "no-data-columns" and "VO2" in err.value.detail


def test_format_hint_forces_reader_and_rejects_unknown():
    with pytest.raises(FormatError) as err:
        read_export(b"t,VO2\n1,2\n", format_hint="nonsense")
    assert err.value.slug == "unknown-format-hint" and err.value.status == 400
    p = read_export(b"t,VO2 (mL/min)\n1,200\n2,300\n3,400\n", format_hint="generic")
    assert p.format == "generic"
