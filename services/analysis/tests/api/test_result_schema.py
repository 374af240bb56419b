"""The documented CPET result is the one sent (issue 12): every reference export's /cpet/file answer, in both
precisions, and a /cpet answer with every optional part, validate against the OpenAPI document, and every key
they carry is named there (a model that allows more keys must still name the ones the engine sends today)."""
import json
from pathlib import Path

import jsonschema
import pytest

from analysis.engine import synthetic

TESTDATA = Path(__file__).resolve().parents[4] / "testdata"

REFERENCE_EXPORTS = sorted(p for p in (TESTDATA / "cpet").rglob("*")
                           if p.is_file() and p.suffix.lower() not in (".md", ".json"))


@pytest.fixture
def document(client):
    return client.get("/openapi.json").json()


def validator(document, name):
    components = document["components"]["schemas"]
    text = json.dumps({**components[name], "$defs": components}).replace("#/components/schemas/", "#/$defs/")
    return jsonschema.Draft202012Validator(json.loads(text))


def undocumented_keys(document, schema, value, path="$") -> list[str]:
    """The keys of `value` its schema does not name (free-form objects, without properties, name none and allow all)."""
    components = document["components"]["schemas"]
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        kind = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
        branch = next((s for s in schema["anyOf"] if kind and (s.get("type") == kind or "$ref" in s)), None)
        return undocumented_keys(document, branch, value, path) if branch else []
    missing = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                missing.append(f"{path}.{key}")
            else:
                missing += undocumented_keys(document, schema["properties"][key], item, f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            missing += undocumented_keys(document, schema["items"], item, f"{path}[{i}]")
    return missing


def test_both_cpet_routes_name_their_answer_models(document):
    for path, model in (("/api/v1/analysis/cpet", "CpetResult"), ("/api/v1/analysis/cpet/file", "CpetFileResult")):
        answer = document["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"] == {"$ref": f"#/components/schemas/{model}"}
    result = document["components"]["schemas"]["CpetResult"]
    assert {"vo2max", "vt1", "vt2", "zones", "fatmax", "protocol", "quality", "status"} <= set(result["required"])


@pytest.mark.parametrize("precision", ["display", "full"])
def test_every_reference_exports_answer_is_the_documented_one(client, document, precision):
    check = validator(document, "CpetFileResult")
    schema = {"$ref": "#/components/schemas/CpetFileResult"}
    analysed = 0
    for path in REFERENCE_EXPORTS:
        answer = client.post("/api/v1/analysis/cpet/file", files={"file": (path.name, path.read_bytes())},
                             data={"precision": precision})
        if answer.status_code == 422:  # not an export (a lab's notes, a lactate table): refused, as documented
            assert answer.headers["content-type"].startswith("application/problem+json")
            continue
        assert answer.status_code == 200, (path, answer.text[:300])
        body = answer.json()
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(body)]
        assert errors == [], (path.name, errors[:5])
        assert undocumented_keys(document, schema, body) == [], path.name
        analysed += 1
    assert analysed >= 130, analysed  # 41 reference exports and the 92 labelled tests


def test_a_result_with_every_optional_part_is_the_documented_one(client, document):
    """Step test (stages, FATmax, Taylor), lactate steps, manual VT1 and VO2max, an athlete; and an insufficient one."""
    check = validator(document, "CpetResult")
    samples, _ = synthetic.step_test(seed=3, speed=False, start=50, inc=25, vo2_per_unit=12.0)
    lactate = [{"intensity": 50 + 25 * i, "lactate": 1.0 + 0.06 * i ** 3 / 4, "heart_rate": 110 + 9 * i}
               for i in range(8)]
    bodies = [
        {"samples": samples, "athlete": {"body_mass_kg": 70, "age": 30, "sex": "female"}, "lactate": lactate,
         "overrides": {"vt1": {"hr_bpm": 140}, "vo2max": {"vo2_ml_min": 3800, "reason": "verification bout"},
                       "exclude": [[100, 110]]}},
        {"samples": samples, "averaging": {"method": "breath", "breaths": 5, "outliers": {"method": "lamarra"}},
         "precision": "full"},
        {"samples": {"time_s": [1, 2, 3], "vo2_ml_min": [300, 310, 320]}},
    ]
    statuses = []
    for body in bodies:
        answer = client.post("/api/v1/analysis/cpet", json=body)
        assert answer.status_code == 200, answer.text[:300]
        result = answer.json()
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(result)]
        assert errors == []
        assert undocumented_keys(document, {"$ref": "#/components/schemas/CpetResult"}, result) == []
        statuses.append(result["status"])
    first = client.post("/api/v1/analysis/cpet", json=bodies[0]).json()
    assert first["fatmax"]["available"] and first["lactate"]["thresholds"] and first["vt1"]["manual"]
    assert first["vo2max"]["manual"] and first["protocol"]["stages"]
    assert statuses == ["analyzed", "analyzed", "insufficient"]
