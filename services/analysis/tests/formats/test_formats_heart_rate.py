"""Heart-rate tracks (FIT, TCX, CSV) and the unit and date checks of the cart readers (issue 13)."""
import numpy as np
import pytest

from analysis.formats import FormatError, read_export, read_heart_rate
from analysis.formats.model import Limits
from analysis.formats.tcx import read_tcx_track

from fit_writer import fit_heart_rate
from formats_testdata import cpet_file

TCX = cpet_file("spiro/hr_ramp.tcx")


@pytest.fixture(scope="module")
def tcx_track():
    return read_tcx_track(TCX)


def test_tcx_track_keeps_its_clock(tcx_track):
    t, hr, start = tcx_track
    tr = read_heart_rate(TCX, "hr_ramp.tcx")
    assert tr.format == "tcx" and tr.start == start == 1615978496.0  # 2021-03-17T10:54:56Z
    assert tr.duration_s == 923 and np.array_equal(tr.hr_bpm, hr)


def test_fit_track_read_by_fitdecode(tcx_track):
    t, hr, start = tcx_track
    tr = read_heart_rate(fit_heart_rate(t + start, hr), "belt.fit")
    assert tr.format == "fit" and tr.start == start
    assert np.array_equal(tr.time_s, t) and np.array_equal(tr.hr_bpm, hr)


def test_csv_tracks_of_seconds_clocks_or_timestamps(tcx_track):
    t, hr, _ = tcx_track
    plain = "time,hr\n" + "\n".join(f"{a:.0f},{b:.0f}" for a, b in zip(t, hr))
    tr = read_heart_rate(plain.encode(), "hr.csv")
    assert tr.format == "csv" and tr.start is None and tr.duration_s == 923 and np.array_equal(tr.hr_bpm, hr)
    clocks = "Zeit;HF (bpm)\n" + "\n".join(f"{int(a) // 60}:{int(a) % 60:02d};{b:.0f}" for a, b in zip(t, hr))
    assert read_heart_rate(clocks.encode(), "hr.csv").duration_s == 923
    stamps = "timestamp,heart_rate\n" + "\n".join(
        f"2021-03-17T10:{54 + int(a + 56) // 60:02d}:{int(a + 56) % 60:02d}Z,{b:.0f}" for a, b in zip(t[:60], hr[:60]))
    tr = read_heart_rate(stamps.encode(), "hr.csv")
    assert tr.start == 1615978496.0 and tr.duration_s == 59


def test_implausible_heart_rates_are_left_out():
    rows = "t,hr\n" + "\n".join(f"{i},{300 if i == 5 else 120 + i}" for i in range(30))
    tr = read_heart_rate(rows.encode(), "hr.csv")
    assert tr.hr_bpm.size == 29 and "outside 25-250 bpm" in tr.warnings[0]


@pytest.mark.parametrize("data,slug", [
    (b"", "empty-file"),
    (b"\x00\x01\x02\x03" * 100, "unknown-format"),
    (b"%PDF-1.4 a report", "unknown-format"),
    (b"PK\x03\x04 a zip", "unknown-format"),
    (b"just some words\nand more words\n", "no-header"),
    (b"t,hr\n1,inf\n2,120\n", "non-finite-value"),
    (b"t,hr\n1,120\n2,121\n", "no-data"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
     b'<TrainingCenterDatabase>&b;</TrainingCenterDatabase>', "xml-entities-forbidden"),
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><TrainingCenterDatabase>&e;</TrainingCenterDatabase>',
     "xml-entities-forbidden"),
    (b"<Workbook><Worksheet/></Workbook>", "unknown-format"),
    (b"<TrainingCenterDatabase><Activities>", "truncated-file"),
])
def test_hostile_or_wrong_files_are_format_errors(data, slug):
    with pytest.raises(FormatError) as exc:
        read_heart_rate(data, "upload")
    assert exc.value.slug == slug, exc.value.detail


def test_broken_fit_files(tcx_track):
    t, hr, start = tcx_track
    fit = fit_heart_rate(t + start, hr)
    with pytest.raises(FormatError) as exc:
        read_heart_rate(fit[:-40], "x.fit")
    assert exc.value.slug == "truncated-file"
    flipped = bytearray(fit)
    flipped[-5] ^= 0xFF
    with pytest.raises(FormatError) as exc:
        read_heart_rate(bytes(flipped), "x.fit")
    assert exc.value.slug == "corrupt-file"
    with pytest.raises(FormatError) as exc:
        read_heart_rate(fit, "x.fit", limits=Limits(max_bytes=1000))
    assert exc.value.slug == "file-too-large" and exc.value.status == 413


# ------------------------------------------------------------------ cart readers: units and dates
def _generic(vo2_header, vo2_values):
    rows = [f"Time (s);{vo2_header};VCO2 (ml/min);HR (bpm)"]
    for i, v in enumerate(vo2_values):
        rows.append(f"{i * 5};{v};{v * 900:.0f};{100 + i}")
    return "\n".join(rows).encode()


def test_litres_under_a_millilitre_header_are_converted_with_a_warning():
    values = [round(0.8 + 0.05 * i, 3) for i in range(60)]
    parsed = read_export(_generic("VO2 (ml/min)", values), "test.csv")
    assert parsed.samples["vo2_ml_min"].max() == pytest.approx(1000 * max(values))
    assert any("header says mL/min" in w and "converted" in w for w in parsed.warnings)


def test_values_fitting_neither_unit_are_refused():
    values = [20 + i for i in range(60)]  # 20-79: neither L/min nor mL/min of a person
    with pytest.raises(FormatError) as exc:
        read_export(_generic("VO2 (ml/min)", values), "test.csv")
    assert exc.value.slug == "ambiguous-units" and "VO2" in exc.value.detail


def test_a_file_without_a_date_is_warned_about_not_dated_today():
    parsed = read_export(cpet_file("spiro/zan_ramp"), "zan_ramp")
    assert parsed.metadata["test_date"] is None
    assert "the export has no test date; enter the date on the test" in parsed.warnings
    dated = read_export(cpet_file("spiro/cortex.xml"), "cortex.xml")
    assert dated.metadata["test_date"] == "2019-04-19" and not any("no test date" in w for w in dated.warnings)
