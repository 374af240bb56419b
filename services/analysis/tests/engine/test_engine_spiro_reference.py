"""spiro's published spiro_max() results for its example file zan_gxt, reproduced end-to-end
(cart reader analysis.formats.read_export + analyze_cpet).

Published in the spiro documentation, reference page of spiro_max (docs.ropensci.org/spiro,
R/spiro_max.R examples; spiro 0.2.x):
    spiro_max(gxt_data)                 VO2 4732.28  VCO2 4640.75  VE 129.62  VO2_rel 71.7
    spiro_max(gxt_data, smooth = 15)    VO2 4774.6   VCO2 4681.83  VE 130.56  VO2_rel 72.34
    spiro_max(gxt_data, smooth = "15b") VO2 4774.13  VCO2 4674.8   VE 130.79  VO2_rel 72.34
Conventions matched: 1-s linear interpolation on t = 1..round(max t); centred moving mean as R
stats::filter(sides = 2) (even windows lean one second forward); breath averages on the raw breaths;
maxima over complete windows only; no outlier removal (spiro has none, and neither has the engine's default:
the 30-s case passes no strategy at all, the others only the averaging); body mass 66 kg from the file header. spiro's RERmax uses its own last-10 %-of-exercise rule and is not compared.
"""
import pytest

from conftest import TESTDATA

formats = pytest.importorskip("analysis.formats", reason="cart readers (analysis.formats) not available")

from analysis.engine import analyze_cpet  # noqa: E402

PUBLISHED = [
    (None, 4732.28, 4640.75, 129.62, 71.7),  # the default strategy
    ({"method": "time", "seconds": 15}, 4774.6, 4681.83, 130.56, 72.34),
    ({"method": "breath", "breaths": 15}, 4774.13, 4674.8, 130.79, 72.34),
]


@pytest.fixture(scope="module")
def zan_gxt():
    path = TESTDATA / "cpet" / "spiro" / "zan_gxt"
    return formats.read_export(path.read_bytes(), "zan_gxt").samples


def _dp(x):
    s = repr(x)
    return len(s.split(".")[1]) if "." in s else 0


@pytest.mark.parametrize("strategy,vo2,vco2,ve,vo2_rel", PUBLISHED)
def test_spiro_max_zan_gxt(zan_gxt, strategy, vo2, vco2, ve, vo2_rel):
    samples = {k: (None if v is None else list(v)) for k, v in zan_gxt.items()}
    r = analyze_cpet(samples, {"body_mass_kg": 66}, strategy)
    assert r["averaging"]["outliers"]["applied"] is False
    assert r["vo2max"]["vo2_ml_min"] == pytest.approx(vo2, abs=0.5 * 10 ** -_dp(vo2) + 1e-9)
    assert r["peak"]["vco2_ml_min"] == pytest.approx(vco2, abs=0.5 * 10 ** -_dp(vco2) + 1e-9)
    assert r["peak"]["ve_l_min"] == pytest.approx(ve, abs=0.5 * 10 ** -_dp(ve) + 1e-9)
    assert r["vo2max"]["vo2_ml_kg_min"] == pytest.approx(vo2_rel, abs=0.5 * 10 ** -_dp(vo2_rel) + 1e-9)


def test_zan_gxt_protocol_is_detected_as_steps(zan_gxt):
    # spiro example description: 300-s steps from 2.0 m/s (7.2 km/h) by 0.4 m/s (1.44 km/h), 30-s rests
    samples = {k: (None if v is None else list(v)) for k, v in zan_gxt.items()}
    r = analyze_cpet(samples, {"body_mass_kg": 66})
    p = r["protocol"]
    assert p["kind"] == "steps" and p["load_channel"] == "speed_kmh"
    assert p["start"] == pytest.approx(7.2, abs=0.01) and p["increment"] == pytest.approx(1.44, abs=0.01)
    assert p["stage_length_s"] == pytest.approx(300, abs=3)
    assert len(p["stages"]) == 9
