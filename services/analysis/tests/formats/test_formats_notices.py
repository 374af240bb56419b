"""The readers' warnings carry stable codes (formats/notices.py): the English text stays what it was, and each
warning also says its code and the figures in it, so that a client can word it in another language."""
from __future__ import annotations

import pickle
import re
import string
from pathlib import Path

import numpy as np
import pytest

from analysis.formats import read_export
from analysis.formats import units as U
from analysis.formats.notices import CODES, NOTES, Note, detail, details

ROOT = Path(__file__).resolve().parents[4]
FORMATS = ROOT / "services/analysis/analysis/formats"


def test_a_note_is_its_english_text_with_a_code_and_params():
    w = Note("column_empty", column="hr_bpm")
    assert w == "hr_bpm: column present but empty; treated as absent"
    assert isinstance(w, str) and w.code == "column_empty" and w.params == {"column": "hr_bpm"}
    again = pickle.loads(pickle.dumps(w))
    assert again == w and again.code == "column_empty" and again.params == {"column": "hr_bpm"}
    assert detail(w) == {"code": "column_empty", "params": {"column": "hr_bpm"},
                         "message": "hr_bpm: column present but empty; treated as absent"}


def test_numpy_figures_become_json_numbers():
    w = Note("hr_values_out_of_range", count=np.int64(3), low=np.float64(25.0), high=250.0)
    assert w == "3 heart-rate values outside 25-250 bpm left out"
    assert type(w.params["count"]) is int and type(w.params["low"]) is float


def test_a_text_without_a_code_is_reader_note():
    assert detail("something new") == {"code": "reader_note", "params": {"text": "something new"},
                                       "message": "something new"}


def test_every_template_names_only_the_params_its_sites_pass():
    fields = {code: {f for _, f, _, _ in string.Formatter().parse(text) if f} for code, text in NOTES.items()}
    sources = "\n".join(p.read_text() for p in FORMATS.glob("*.py")) + \
        (ROOT / "services/analysis/analysis/engine/heart_rate.py").read_text()
    used = set(re.findall(r'note\("([a-z_0-9]+)"', sources))
    assert used == set(CODES) - {"reader_note"}, "a code no reader uses, or a reader using an unknown code"
    for code in used:
        call = sources[sources.index(f'note("{code}"'):]
        call = call[:call.index(")\n") if ")\n" in call else len(call)]
        passed = set(re.findall(r"(\w+)=", call)) | ({"row_word", "row", "time", "previous"} if "**at" in call else set())
        assert fields[code] <= passed, (code, fields[code], passed)


def test_no_reader_appends_a_bare_string_warning():
    bare = re.compile(r'(?:notes|warnings)(?:\.append\(| \+= \[|\s*=\s*\w+ \+ \[)\s*f?"|'
                      r'return [^\n]*, (?:notes \+ )?\[f?"')
    for path in [*FORMATS.glob("*.py"), ROOT / "services/analysis/analysis/engine/heart_rate.py"]:
        assert not bare.search(path.read_text()), path


@pytest.mark.parametrize("name, expected", [
    ("cpet/spiro/zan_ramp", ["column_empty", "no_test_date"]),
    ("cpet/spiro/vyntus.txt", ["body_mass_estimated", "column_empty", "no_test_date"]),
    ("cpet/spiro/cosmed.xlsx", ["mixed_expired_pressures", "column_empty", "age_disagrees"]),
    ("cpet/whippr/ramp_cosmed.xlsx", ["body_mass_estimated", "time_disorder_dropped", "column_all_zero",
                                      "no_test_date"]),
])
def test_real_exports_warn_with_codes_and_the_same_words(name, expected):
    parsed = read_export((ROOT / "testdata" / name).read_bytes(), filename=Path(name).name)
    assert [w.code for w in parsed.warnings] == expected
    wire = parsed.to_wire()
    assert wire["warnings"] == [d["message"] for d in wire["warning_details"]]
    for d in wire["warning_details"]:
        assert d["message"] == NOTES[d["code"]].format(**d["params"])


def test_a_unit_guess_names_its_column_and_figures():
    _, notes = U.gas_flow_to_ml_min(np.array([0.3, 1.2, 3.4]), None, "VO2")
    assert notes == ["VO2: no unit in the header; values up to 3.4 read as L/min and converted to mL/min"]
    assert notes[0].code == "gas_no_unit_l" and notes[0].params == {"label": "VO2", "max": 3.4}
    assert details(notes)[0]["params"]["max"] == 3.4
