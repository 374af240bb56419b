"""Garmin TCX heart-rate track read on its own and merged onto a ZAN test by time."""
from __future__ import annotations

import numpy as np
import pytest

from formats_testdata import cpet_file
from analysis.formats import COLUMNS, FormatError, merge_heart_rate, read_export, read_tcx_heart_rate


def test_read_tcx_heart_rate():
    t, hr = read_tcx_heart_rate(cpet_file("spiro/hr_ramp.tcx"))
    assert t.shape == hr.shape == (924,)  # 924 trackpoints, 1 Hz
    assert t[0] == 0 and t[-1] == 923 and np.all(np.diff(t) > 0)
    assert hr[0] == 127 and hr[1] == 126 and hr[-1] == 155
    assert hr.max() == 202  # MaximumHeartRateBpm of the lap


def test_merge_heart_rate_onto_zan_ramp():
    test = read_export(cpet_file("spiro/zan_ramp"))
    assert "hr_bpm" not in test.samples
    merged = merge_heart_rate(test, cpet_file("spiro/hr_ramp.tcx"), offset_s=0)
    hr = merged.samples["hr_bpm"]
    t = merged.samples["time_s"]
    assert hr.shape == t.shape
    assert np.isfinite(hr).all()  # the track (924 s) covers the whole test (853 s)
    # breath at 0.326 s lies between trackpoints 0 s (127) and 1 s (126)
    assert hr[0] == pytest.approx(127 - 0.326, abs=1e-6)
    assert 180 < hr.max() <= 202
    assert list(merged.samples) == [c for c in COLUMNS if c in merged.samples]  # wire order
    assert "hr_bpm" not in test.samples  # input unchanged
    shifted = merge_heart_rate(test, cpet_file("spiro/hr_ramp.tcx"), offset_s=400)
    assert np.isnan(shifted.samples["hr_bpm"][0])  # before the track starts
    assert any("covers" in w for w in shifted.warnings)


def test_tcx_hostile_and_wrong_input():
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><TrainingCenterDatabase>&b;</TrainingCenterDatabase>'
    with pytest.raises(FormatError) as err:
        read_tcx_heart_rate(bomb)
    assert err.value.slug == "xml-entities-forbidden"
    with pytest.raises(FormatError) as err:
        read_tcx_heart_rate(cpet_file("spiro/cortex.xml"))
    assert err.value.slug == "unknown-format"
    with pytest.raises(FormatError) as err:
        read_tcx_heart_rate(b'<TrainingCenterDatabase xmlns="x"><Activities/></TrainingCenterDatabase>')
    assert err.value.slug == "no-data"
    # an infinite heart rate is refused, naming the trackpoint
    track = cpet_file("spiro/hr_ramp.tcx").decode("utf-8")
    i = track.index("<Value>", track.index("<Trackpoint>", track.index("<Trackpoint>") + 1))
    j = track.index("</Value>", i)
    with pytest.raises(FormatError) as err:
        read_tcx_heart_rate((track[:i] + "<Value>1e309" + track[j:]).encode())
    assert err.value.slug == "non-finite-value" and "trackpoint 2" in err.value.detail
