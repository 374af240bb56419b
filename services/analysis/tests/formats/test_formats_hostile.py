"""Hostile or broken uploads: always a FormatError with the right slug, quickly."""
from __future__ import annotations

import io
import json
import os
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats_testdata import cpet_file
from analysis.formats import FormatError, Limits, read_export

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">&lol9;</Workbook>
"""


def refused(data: bytes, **kw) -> FormatError:
    with pytest.raises(FormatError) as err:
        read_export(data, **kw)
    return err.value


def minimal_xlsx(sheet_xml: bytes, extra: dict[str, bytes] | None = None, level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("xl/workbook.xml", b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="S" sheetId="1"/></sheets></workbook>')
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        for name, payload in (extra or {}).items():
            z.writestr(name, payload)
    return buf.getvalue()


def test_billion_laughs_is_refused_without_expansion():
    t = time.perf_counter()
    err = refused(BILLION_LAUGHS, filename="cortex.xml")
    assert err.slug == "xml-entities-forbidden" and err.status == 422
    assert time.perf_counter() - t < 1.0


def test_external_entity_xml_is_refused():
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Workbook>&x;</Workbook>'
    assert refused(xxe).slug == "xml-entities-forbidden"


def test_doctype_inside_xlsx_part_is_refused():
    sheet = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><worksheet><sheetData/></worksheet>'
    assert refused(minimal_xlsx(sheet)).slug == "xml-entities-forbidden"


def test_xlsx_zip_bomb_by_ratio():
    bomb = b"<worksheet><sheetData>" + b" " * (30 * 1024 * 1024) + b"</sheetData></worksheet>"
    data = minimal_xlsx(bomb, level=9)
    assert len(data) < 200_000
    t = time.perf_counter()
    err = refused(data, filename="bomb.xlsx")
    assert err.slug == "zip-bomb" and err.status == 413
    assert "compressed" in err.detail
    assert time.perf_counter() - t < 1.0


def test_xlsx_zip_bomb_by_total_size():
    payload = os.urandom(3 * 1024 * 1024)  # incompressible: the ratio check does not fire
    data = minimal_xlsx(b"<worksheet/>", {"xl/media/a.bin": payload, "xl/media/b.bin": payload})
    err = refused(data, limits=Limits(max_unzipped_bytes=4 * 1024 * 1024))
    assert err.slug == "zip-bomb" and "expand" in err.detail


def test_xlsx_member_lying_about_its_size_is_caught():
    real = b"<worksheet><sheetData>" + b"x" * 2_000_000 + b"</sheetData></worksheet>"
    data = bytearray(minimal_xlsx(real, level=9))
    # Patch the declared uncompressed size (local header and central directory) to 1000 bytes.
    size = struct.pack("<I", len(real))
    count = 0
    pos = data.find(size)
    while pos != -1:
        data[pos : pos + 4] = struct.pack("<I", 1000)
        count += 1
        pos = data.find(size, pos + 4)
    assert count == 2
    err = refused(bytes(data))
    assert err.slug == "truncated-file" and "damaged" in err.detail  # CRC check fails


def test_xlsx_sparse_corner_cells_do_not_allocate_a_huge_grid():
    sheet = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             b'<row r="1"><c r="A1"><v>1</v></c></row>'
             b'<row r="1000000"><c r="XFD1000000"><v>1</v></c></row></sheetData></worksheet>')
    err = refused(minimal_xlsx(sheet))
    assert err.slug == "sheet-too-large" and err.status == 413


def test_truncated_xlsx():
    data = cpet_file("whippr/ramp_cosmed.xlsx")
    for cut in (len(data) // 2, len(data) - 30, 100):
        err = refused(data[:cut], filename="ramp_cosmed.xlsx")
        assert err.slug == "truncated-file", cut


def test_truncated_zan():
    data = cpet_file("spiro/zan_ramp")
    cut = data.find(b"\nB300=") + 40  # in the middle of breath 300
    err = refused(data[:cut])
    assert err.slug == "truncated-file"
    assert "line" in err.detail
    header_only = data[: data.find(b"[Data]") - 5]
    assert refused(header_only).slug == "truncated-file"


def test_truncated_cortex_xml():
    data = cpet_file("spiro/cortex.xml")
    err = refused(data[: len(data) // 2])
    assert err.slug == "truncated-file" and "line" in err.detail


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    err = refused(data)
    assert err.slug == "unknown-format"


def test_pdf_and_legacy_xls_are_named():
    assert refused(b"%PDF-1.7\n...").slug == "unknown-format"
    assert refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600).slug == "unsupported-spreadsheet"


def test_empty_and_bad_input_type():
    assert refused(b"").slug == "empty-file"
    assert refused(b"  \n ").slug == "empty-file"
    with pytest.raises(FormatError) as err:
        read_export("t,VO2\n1,2\n")  # type: ignore[arg-type]
    assert err.value.slug == "bad-input" and err.value.status == 400


def test_scrambled_time_is_refused():
    rng = np.random.default_rng(1)
    times = rng.permutation(np.arange(1, 201))
    body = "".join(f"{t},{1000 + t}\n" for t in times)
    err = refused(("time,VO2 (mL/min)\n" + body).encode())
    assert err.slug == "non-monotonic-time" and "row" in err.detail


def test_a_few_backwards_breaths_are_dropped_with_a_warning():
    times = list(range(1, 301))
    times[100], times[101] = times[101], times[100]  # one breath out of order
    times[200] = times[199]  # one repeated stamp
    body = "".join(f"{t},{1000 + i}\n" for i, t in enumerate(times))
    p = read_export(("time,VO2 (mL/min)\n" + body).encode())
    assert p.n_rows == 298
    assert np.all(np.diff(p.samples["time_s"]) > 0)
    assert any("dropped" in w and "row 103" in w for w in p.warnings)


def test_ten_million_row_csv_is_refused_quickly():
    data = b"t,VO2\n" + b"1,2\n" * 10_000_000  # 40 MB: under the size limit, over the row limit
    t = time.perf_counter()
    err = refused(data, filename="huge.csv")
    elapsed = time.perf_counter() - t
    assert err.slug == "too-many-rows" and err.status == 413
    assert elapsed < 2.0, f"took {elapsed:.2f} s"


def test_row_limit_is_configurable():
    body = "".join(f"{i},{1000 + i}\n" for i in range(1, 2001))
    data = ("t,VO2 (mL/min)\n" + body).encode()
    assert read_export(data).n_rows == 2000
    assert refused(data, max_rows=500).slug == "too-many-rows"


def test_file_size_limit():
    data = cpet_file("spiro/zan_ramp")
    err = refused(data, max_bytes=100_000)
    assert err.slug == "file-too-large" and err.status == 413
    big = b"t,VO2\n" + b"0" * (51 * 1024 * 1024)
    assert refused(big).slug == "file-too-large"


def test_errors_carry_slug_detail_status():
    err = refused(BILLION_LAUGHS)
    wire = err.to_wire()
    assert wire == {"error": "xml-entities-forbidden", "detail": err.detail, "status": 422}
    assert str(err).startswith("xml-entities-forbidden")


PREFIXES = [b"", b"PK\x03\x04", b"<?xml version='1.0'?><Workbook xmlns='urn:schemas-microsoft-com:office:spreadsheet'>",
            b"[person]\r\ngewicht=66\r\n[parameter]\r\nP=340,1000,Zeit\r\n[Data]\r\nB1=1,", b"t,VO2,HR\n",
            b"\xff\xfe", b"Time\tEx Time\tTime (Clock)\tSpeed\tGrade\tVO2\tVO2\n"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=3000))
def test_arbitrary_bytes_only_ever_raise_format_error(prefix, body):
    try:
        parsed = read_export(prefix + body)
    except FormatError as err:
        assert err.slug and err.detail and err.status in (400, 413, 422)
    else:
        assert "time_s" in parsed.samples
        parsed.to_wire()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=8)), min_size=1, max_size=5),
                max_size=30))
def test_arbitrary_tables_only_ever_raise_format_error(rows):
    text = "time,VO2,HR\n" + "\n".join(",".join(str(c) for c in row) for row in rows)
    try:
        parsed = read_export(text.encode("utf-8", "surrogatepass"))
    except FormatError as err:
        assert err.slug and err.detail and err.status in (400, 413, 422)
        return
    # whatever was read is a usable table: finite, strictly increasing time; JSON without NaN/inf
    t = parsed.samples["time_s"]
    assert t.size and np.isfinite(t).all() and (np.diff(t) > 0).all()
    json.dumps(parsed.to_wire(), allow_nan=False)


def test_infinite_cells_are_refused_naming_column_and_row():
    rows = "".join(f"{t},{1000 + t},{100 + t / 10}\n" for t in range(0, 300, 3))
    for cell in ("inf", "-Infinity", "1e309"):
        text = "time,VO2,HR\n" + rows.replace("\n30,1030,", f"\n30,{cell},")
        with pytest.raises(FormatError) as err:
            read_export(text.encode())
        assert err.value.slug == "non-finite-value" and err.value.status == 422
        assert "column vo2_ml_min, row 12" in err.value.detail
    # ZAN: the row is the file's line, the column the normalized one
    zan = cpet_file("spiro/zan_gxt").decode("latin-1").splitlines(keepends=True)
    k = next(i for i, ln in enumerate(zan) if ln.startswith("B5="))
    fields = zan[k].split(",")
    fields[1] = "inf"  # Zeit
    zan[k] = ",".join(fields)
    with pytest.raises(FormatError) as err:
        read_export("".join(zan).encode("latin-1"))
    assert err.value.slug == "non-finite-value" and f"column time_s, line {k + 1}" in err.value.detail


_time_steps = st.lists(st.floats(0.5, 5.0), min_size=3, max_size=40)


@settings(max_examples=100, deadline=None)
@given(_time_steps, st.data())
def test_valid_tables_parse_to_the_values_written(steps, data):
    n = len(steps)
    t = np.round(np.cumsum(steps), 3)
    vo2 = data.draw(st.lists(st.floats(200.0, 6000.0), min_size=n, max_size=n))
    hr = data.draw(st.lists(st.one_of(st.none(), st.floats(40.0, 220.0)), min_size=n, max_size=n))
    sep = data.draw(st.sampled_from([",", ";", "\t"]))
    lines = [sep.join(["time (s)", "VO2 (mL/min)", "HR (bpm)"])]
    lines += [sep.join([repr(float(a)), repr(b), "" if c is None else repr(c)]) for a, b, c in zip(t, vo2, hr)]
    parsed = read_export(("\n".join(lines) + "\n").encode())
    assert parsed.format == "generic"
    s = parsed.samples
    assert s["time_s"].tolist() == t.tolist()
    assert s["vo2_ml_min"].tolist() == vo2
    if any(c is not None for c in hr):
        got = [None if v != v else v for v in s["hr_bpm"].tolist()]
        assert got == hr
    else:
        assert "hr_bpm" not in s  # an empty column is absent, not a column of NaN
