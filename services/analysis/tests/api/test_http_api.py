"""The analysis service over HTTP: tokens required, files read, results computed, bad input as problem+json."""
import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


TESTDATA = Path(__file__).resolve().parents[4] / "testdata"


def test_no_token_is_401_problem(client):
    client.headers.pop("Authorization")
    response = client.post("/api/v1/analysis/lactate", json={"steps": []})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_parse_reads_a_cart_export_column_wise(client):
    path = TESTDATA / "cpet/spiro/zan_ramp"
    response = client.post("/api/v1/analysis/parse", files={"file": (path.name, path.read_bytes())})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["format"] == "zan"
    assert body["metadata"]["body_mass_kg"] == 66
    assert len(body["samples"]["time_s"]) == len(body["samples"]["vo2_ml_min"]) > 500
    assert body["samples"]["power_w"] is None  # absent columns are null


def test_a_hostile_file_is_a_problem_naming_it(client):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b"<Workbook>&lol2;</Workbook>")
    response = client.post("/api/v1/analysis/parse", files={"file": ("bomb.xml", bomb)})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:vo2:problem:xml-entities-forbidden"


def test_an_oversized_upload_is_413(client, monkeypatch):
    from analysis import api

    monkeypatch.setattr(api, "MAX_UPLOAD_BYTES", 1024)
    response = client.post("/api/v1/analysis/parse", files={"file": ("big.csv", b"t,vo2\n" + b"1,2\n" * 2000)})
    assert response.status_code == 413 and response.json()["type"] == "urn:vo2:problem:file-too-large"


def test_cpet_from_the_normalized_table(client):
    path = TESTDATA / "cpet/spiro/zan_gxt"
    table = client.post("/api/v1/analysis/parse", files={"file": (path.name, path.read_bytes())}).json()
    response = client.post("/api/v1/analysis/cpet", json={
        "samples": table["samples"], "athlete": {"body_mass_kg": 66, "age": 30, "sex": "male"},
        "averaging": {"method": "time", "seconds": 30}})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["vo2max"]["strategy"]["method"] == "time"
    # rounded at the API: VO2 to 1 mL/min, per kg to 0.1
    assert isinstance(result["vo2max"]["vo2_ml_min"], int)
    assert result["vo2max"]["vo2_ml_kg_min"] == pytest.approx(result["vo2max"]["vo2_ml_min"] / 66, abs=0.06)
    assert result["protocol"]["kind"] == "steps"


def test_cpet_refuses_unknown_columns_and_ragged_arrays(client):
    response = client.post("/api/v1/analysis/cpet", json={"samples": {"time_s": [1, 2, 3], "vo2": [1, 2, 3]}})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "samples.vo2"
    response = client.post("/api/v1/analysis/cpet", json={"samples": {"time_s": [1, 2, 3], "vo2_ml_min": [1, 2]}})
    assert response.status_code == 400 and "vo2_ml_min" in response.json()["detail"]  # validation-error: 400


def test_a_field_a_request_does_not_know_is_a_400_naming_it(client):
    """A misspelt "protocl" would have analysed the test without its declared protocol, without a word."""
    samples = {"time_s": [1, 2, 3], "vo2_ml_min": [1, 2, 3]}
    response = client.post("/api/v1/analysis/cpet", json={"samples": samples, "protocl": {"kind": "ramp"},
                                                          "protocol": {"kind": "ramp", "incremnt": 25}})
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/problem+json")
    errors = {(e["field"], e.get("code")) for e in response.json()["errors"]}
    assert errors == {("protocl", "extra_forbidden"), ("protocol.incremnt", "extra_forbidden")}, errors
    steps = [{"intensity": 100 + 25 * i, "lactate": 1.0 + i, "hr": 120} for i in range(4)]
    response = client.post("/api/v1/analysis/lactate", json={"steps": steps})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {f"steps.{i}.hr" for i in range(4)}


def test_lactate_thresholds_by_lactater_methods(client):
    from tests.published import LACTATER_README, half_unit

    with open(TESTDATA / "lactate/lactater_demo_data.csv") as f:
        rows = list(csv.DictReader(f))
    steps = [{"intensity": float(r["intensity"]), "lactate": float(r["lactate"]),
              "heart_rate": float(r["heart_rate"]), "length": float(r.get("length") or 3)} for r in rows]
    response = client.post("/api/v1/analysis/lactate", json={"steps": steps, "fit": "poly3"})
    assert response.status_code == 200, response.text
    methods = {t["method"]: t for t in response.json()["thresholds"]}
    assert [m for m, *_ in LACTATER_README] == list(methods)  # all 17, in lactater's order
    for method, intensity, _, _ in LACTATER_README:
        tol = 0.1 + 1e-9 if method == "LTP1" else half_unit(intensity)  # LTP1: see test_engine_lactate.py
        assert abs(methods[method]["intensity"] - float(intensity)) <= tol, method


@pytest.mark.parametrize("cell", ["inf", "Infinity", "-inf", "1e309"])
@pytest.mark.parametrize("column,row", [("VO2", 12), ("time", 20)])
def test_a_non_finite_cell_is_a_problem_naming_column_and_row(client, cell, column, row):
    lines = ["time,VO2,VCO2,VE,HR"] + [f"{t},{1000 + t},{900 + t},{30 + t / 10},{100 + t / 10}" for t in range(0, 300, 3)]
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = cell
    lines[row - 1] = ",".join(cells)
    response = client.post("/api/v1/analysis/parse", files={"file": ("t.csv", "\n".join(lines).encode())})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:vo2:problem:non-finite-value"
    target = {"VO2": "vo2_ml_min", "time": "time_s"}[column]
    assert f"column {target}, row {row}" in body["detail"]


def test_a_nan_cell_is_a_missing_value_not_an_error(client):
    lines = ["time,VO2,VCO2,VE,HR"] + [f"{t},{1000 + t},{900 + t},{30 + t / 10},{100 + t / 10}" for t in range(0, 300, 3)]
    lines[11] = lines[11].replace(",1030,", ",NaN,")
    response = client.post("/api/v1/analysis/parse", files={"file": ("t.csv", "\n".join(lines).encode())})
    assert response.status_code == 200, response.text
    vo2 = response.json()["samples"]["vo2_ml_min"]
    assert vo2[10] is None and vo2[9] == 1027 and vo2[11] == 1033


def test_cpet_refuses_infinite_samples(client):
    # Python's JSON parser accepts the non-standard literal Infinity
    body = '{"samples": {"time_s": [1, 2, 3], "vo2_ml_min": [1000, Infinity, 1100]}}'
    response = client.post("/api/v1/analysis/cpet", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == "urn:vo2:problem:validation-error"
    assert problem["errors"][0]["field"] == "samples.vo2_ml_min[1]"


# spiro's published spiro_max(zan_gxt) (see tests/engine/test_engine_spiro_reference.py for the source)
SPIRO_MAX = [(None, 4732.28, 71.7), ({"method": "time", "seconds": 15}, 4774.6, 72.34),
             ({"method": "breath", "breaths": 15}, 4774.13, 72.34)]


def test_spiro_max_through_the_api_with_the_default_strategy(client):
    path = TESTDATA / "cpet/spiro/zan_gxt"
    # one call, nothing chosen: reader metadata (66 kg from the header) and the default strategy
    one = client.post("/api/v1/analysis/cpet/file", files={"file": (path.name, path.read_bytes())})
    assert one.status_code == 200, one.text
    v = one.json()["result"]["vo2max"]
    # as the API shows it: 1 mL/min, 0.1 mL/kg/min
    assert v["vo2_ml_min"] == round(4732.28) and v["vo2_ml_kg_min"] == 71.7
    full = client.post("/api/v1/analysis/cpet/file", files={"file": (path.name, path.read_bytes())},
                       data={"precision": "full"}).json()["result"]["vo2max"]
    assert full["vo2_ml_min"] == pytest.approx(4732.28, abs=0.005) and full["vo2_ml_kg_min"] == pytest.approx(71.7, abs=0.05)
    assert v["strategy"]["outliers"]["applied"] is False and v["strategy"]["sampling_source"] == "declared"
    table = client.post("/api/v1/analysis/parse", files={"file": (path.name, path.read_bytes())}).json()
    for averaging, vo2, rel in SPIRO_MAX:
        body = {"samples": table["samples"], "athlete": {"body_mass_kg": 66}, "precision": "full"}
        if averaging:
            body["averaging"] = averaging
        r = client.post("/api/v1/analysis/cpet", json=body)
        assert r.status_code == 200, r.text
        v = r.json()["vo2max"]
        assert v["vo2_ml_min"] == pytest.approx(vo2, abs=0.005) and v["vo2_ml_kg_min"] == pytest.approx(rel, abs=0.005)


def test_nolte_default_strategy_through_the_api(client):
    # 30-s moving time average, the engine's default (tm_30 of Nolte et al. 2023, results.csv; the five
    # strategies of all 25 tests are checked in-process by tests/engine/test_engine_nolte_reference.py)
    from tests.published import NOLTE_2023, tolerance

    folder = TESTDATA / "cpet/nolte2023_ramptests"
    mass = {r["file"]: float(r["bodymass"]) for r in csv.DictReader(open(folder / "participants.csv", newline=""))}
    for name, values in NOLTE_2023.items():
        data = (folder / name).read_bytes()
        table = client.post("/api/v1/analysis/parse", files={"file": (name, data)}).json()
        body = {"samples": table["samples"], "athlete": {"body_mass_kg": mass[name]}}
        r = client.post("/api/v1/analysis/cpet", json=body | {"precision": "full"})
        assert r.status_code == 200, r.text
        got = r.json()["vo2max"]["vo2_ml_min"] / mass[name]
        assert got == pytest.approx(float(values[0]), abs=tolerance(values[0])), name
        # the default answer shows it to 0.1 mL/kg/min
        shown = client.post("/api/v1/analysis/cpet", json=body).json()["vo2max"]["vo2_ml_kg_min"]
        assert shown == pytest.approx(float(values[0]), abs=0.05 + 1e-9), name


@pytest.mark.parametrize("name,applied", [("oxynet_data_test_1s_unlabelled.csv", False),
                                          ("oxynet_test_data_ET_dataset001_bbb.csv", True)])
def test_outlier_option_only_touches_breath_by_breath_exports(client, name, applied):
    data = (TESTDATA / "cpet/oxynet" / name).read_bytes()
    table = client.post("/api/v1/analysis/parse", files={"file": (name, data)}).json()
    r = client.post("/api/v1/analysis/cpet", json={"samples": table["samples"],
                                                   "averaging": {"outliers": {"method": "lamarra", "sd": 4}}})
    assert r.status_code == 200, r.text
    rule = r.json()["averaging"]["outliers"]
    assert rule["method"] == "lamarra" and rule["applied"] is applied
    assert r.json()["averaging"]["sampling"] == ("breath-by-breath" if applied else "averaged")
    if not applied:  # the 1-s interpolated export keeps every row
        assert r.json()["quality"]["outliers_removed"] == 0


def test_the_callers_sport_sets_the_lactate_units_of_a_cpet_request(client):
    """The test's recorded modality is the one source of the sport: a ramp on a cycle (power channel) whose
    lactate steps the lab recorded as a running test is analysed in running units, and without a sport the load
    channel decides."""
    from analysis.engine.synthetic import ramp_test

    samples = {k: [float(x) for x in v] for k, v in ramp_test(seed=3)[0].items()
               if k in ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "power_w")}
    with open(TESTDATA / "lactate/lactater_demo_data.csv") as f:
        rows = list(csv.DictReader(f))
    steps = [{"intensity": float(r["intensity"]), "lactate": float(r["lactate"])} for r in rows]
    sports = {}
    for sport in ("running", None):
        body = {"samples": samples, "lactate": steps, **({"sport": sport} if sport else {})}
        response = client.post("/api/v1/analysis/cpet", json=body)
        assert response.status_code == 200, response.text
        sports[sport] = response.json()["lactate"]["sport"]
    assert sports == {"running": "running", None: "cycling"}
    assert client.post("/api/v1/analysis/cpet", json={"samples": samples, "sport": "skating"}).status_code == 400


def test_parse_says_each_warning_with_its_code_and_the_document_lists_the_codes(client):
    from analysis.formats.notices import CODES

    path = TESTDATA / "cpet/spiro/zan_ramp"
    body = client.post("/api/v1/analysis/parse", files={"file": (path.name, path.read_bytes())}).json()
    assert body["warnings"] == ["hr_bpm: column present but empty; treated as absent",
                                "the export has no test date; enter the date on the test"]
    assert body["warning_details"] == [
        {"code": "column_empty", "params": {"column": "hr_bpm"}, "message": body["warnings"][0]},
        {"code": "no_test_date", "params": {}, "message": body["warnings"][1]}]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["ReaderWarningCode"]["enum"] == list(CODES)
    assert schemas["ParsedExport"]["properties"]["warning_details"]["items"] == {
        "$ref": "#/components/schemas/ReaderWarning"}


def test_the_document_types_what_parse_cpet_and_lactate_take_and_answer(client):
    """Issue 12: real request and answer schemas (not free-form objects), and they hold for real answers."""
    import json

    import jsonschema

    from analysis.formats import FORMAT_IDS

    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    def valid(name, value):
        text = json.dumps({**components[name], "$defs": components}).replace("#/components/schemas/", "#/$defs/")
        jsonschema.validate(value, json.loads(text))

    assert components["Body_parse_api_v1_analysis_parse_post"]["properties"]["format"]["enum"] == \
        list(FORMAT_IDS)
    samples = components["Samples"]
    assert samples["required"] == ["time_s"] and samples["additionalProperties"] is False
    parse = document["paths"]["/api/v1/analysis/parse"]["post"]["responses"]["200"]["content"]["application/json"]
    assert parse["schema"] == {"$ref": "#/components/schemas/ParsedExport"}
    path = TESTDATA / "cpet/spiro/zan_ramp"
    valid("ParsedExport", client.post("/api/v1/analysis/parse", files={"file": (path.name, path.read_bytes())}).json())
    with open(TESTDATA / "lactate/lactater_demo_data.csv") as f:
        steps = [{"intensity": float(r["intensity"]), "lactate": float(r["lactate"])} for r in csv.DictReader(f)]
    answer = client.post("/api/v1/analysis/lactate", json={"steps": steps})
    assert answer.status_code == 200
    valid("LactateResult", answer.json())
    # an unknown column is still named in the 422 (the model keeps it to say so)
    refused = client.post("/api/v1/analysis/cpet", json={"samples": {"time_s": [1, 2], "vo2": [1, 2]}})
    assert refused.status_code == 422 and refused.json()["type"] == "urn:vo2:problem:unknown-columns"


def test_every_upload_is_documented_as_a_file(client):
    """A generated client sends bytes only for `format: binary` (3.1's contentMediaType alone made it send a string)."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    uploads = {name: body["properties"]["file"] for name, body in schemas.items()
               if name.startswith("Body_") and "file" in body.get("properties", {})}
    assert len(uploads) == 3, sorted(uploads)  # parse, cpet/file, heart-rate/align
    assert all(field["format"] == "binary" for field in uploads.values()), uploads


def test_a_token_that_cannot_be_checked_now_is_503_not_401(keys, monkeypatch):
    """Identity unreachable and no signing key held: 503 `auth-unavailable` with Retry-After, so a client retries."""
    import socket

    from fastapi.testclient import TestClient

    from servicekit import jwt as kit_jwt

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    monkeypatch.setenv("JWT_JWKS_URL", f"http://127.0.0.1:{dead}/.well-known/jwks.json")
    kit_jwt.set_verifier(None)
    from analysis.app import create_app

    try:
        with TestClient(create_app()) as c:
            token = keys.token(tid="7d1c5b1e-0000-4000-8000-000000000001", roles=["physiologist"])
            answer = c.post("/api/v1/analysis/lactate", json={"steps": []}, headers={"Authorization": "Bearer " + token})
            assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
            assert answer.json()["type"] == "urn:vo2:problem:auth-unavailable"
            assert answer.headers["content-type"].startswith("application/problem+json")
    finally:
        kit_jwt.set_verifier(None)
