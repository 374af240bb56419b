"""An import's warnings with their codes (imports/warning_details.py): what the analysis sent, and what an older
row (stored before the codes) or an analysis that sends none looks like — each text as `reader_note`."""
from types import SimpleNamespace

from measurements.imports import warning_details
from measurements.imports.pipeline import _analysis_warnings


def test_the_readers_codes_are_kept_as_the_analysis_sent_them():
    parsed = {"warnings": ["the export has no test date; enter the date on the test"],
              "warning_details": [{"code": "no_test_date", "params": {},
                                   "message": "the export has no test date; enter the date on the test"}]}
    assert warning_details.reader_warnings(parsed) == parsed["warning_details"]


def test_texts_without_codes_are_reader_notes():
    parsed = {"warnings": ["a text from an older analysis service"]}
    assert warning_details.reader_warnings(parsed) == [
        {"code": "reader_note", "params": {"text": "a text from an older analysis service"},
         "message": "a text from an older analysis service"}]
    # details that do not match the texts are not trusted
    parsed["warning_details"] = [{"code": "no_test_date", "params": {}, "message": "something else"}]
    assert warning_details.reader_warnings(parsed)[0]["code"] == "reader_note"


def test_an_older_import_row_answers_each_text_as_a_reader_note():
    old = SimpleNamespace(warnings=["hr_bpm: column present but empty; treated as absent"], warning_details=[])
    assert warning_details.of(old) == [{"code": "reader_note",
                                        "params": {"text": "hr_bpm: column present but empty; treated as absent"},
                                        "message": "hr_bpm: column present but empty; treated as absent"}]
    new = SimpleNamespace(warnings=["x"], warning_details=[{"code": "no_test_date", "params": {}, "message": "x"}])
    assert warning_details.of(new) == new.warning_details


def test_the_results_flags_are_warnings_with_the_flags_codes():
    result = {"quality": {"flags": [
        {"code": "athlete_mismatch:sex", "message": "the file says male, the record female"},
        {"code": "noisy_signal", "message": "not one an importing lab must see at once"},
        {"code": "insufficient", "message": "no VO2max"}]}}
    assert _analysis_warnings(result) == [
        {"code": "athlete_mismatch:sex", "params": {},
         "message": "athlete_mismatch:sex: the file says male, the record female"},
        {"code": "insufficient", "params": {}, "message": "insufficient: no VO2max"}]
