"""Every free-text field of athletes and tests has its own limit (issue 12: a 5 MiB `notes` was accepted): a longer
value is a 400 validation-error naming the field and the limit, and nothing is stored or changed."""
import pytest

from servicekit import limits

pytestmark = pytest.mark.django_db(transaction=True)

ANNA = {"first_name": "Anna", "last_name": "Ivanova", "sex": "female"}


def refused(response, field, limit):
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json", response.content
    body = response.json()
    assert body["type"] == "urn:vo2:problem:validation-error"
    [error] = [e for e in body["errors"] if e["field"] == field]
    assert f"{limit}" in error["detail"], error  # the detail names the limit
    return body


@pytest.mark.parametrize("field, limit", [("notes", limits.NOTES), ("first_name", limits.NAME),
                                          ("last_name", limits.NAME), ("sport", limits.NAME)])
def test_athlete_text_fields_are_bounded(caller, tenant_a, field, limit):
    owner = caller(tenant_a)
    refused(owner.post("/api/v1/athletes/", {**ANNA, field: "x" * (limit + 1)}, format="json"), field, limit)
    assert owner.get("/api/v1/athletes/").json()["results"] == []
    made = owner.post("/api/v1/athletes/", {**ANNA, field: "x" * limit}, format="json")  # the limit itself is fine
    assert made.status_code == 201 and len(made.json()[field]) == limit
    path = f"/api/v1/athletes/{made.json()['id']}/"
    refused(owner.patch(path, {field: "y" * (limit + 1)}, format="json"), field, limit)
    refused(owner.put(path, {**ANNA, field: "y" * (limit + 1)}, format="json"), field, limit)
    assert owner.get(path).json()[field] == "x" * limit


def test_five_mib_of_notes_is_refused(caller, tenant_a):
    refused(caller(tenant_a).post("/api/v1/athletes/", {**ANNA, "notes": "n" * (5 * 2 ** 20)}, format="json"),
            "notes", limits.NOTES)


@pytest.mark.parametrize("field, limit", [("notes", limits.NOTES), ("device", 200)])
def test_exercise_test_text_fields_are_bounded(caller, tenant_a, athlete, field, limit):
    owner = caller(tenant_a)
    body = {"athlete": athlete["id"], "date": "2026-03-01", "modality": "cycling"}
    refused(owner.post("/api/v1/tests/", {**body, field: "x" * (limit + 1)}, format="json"), field, limit)
    assert owner.get("/api/v1/tests/").json()["results"] == []
    made = owner.post("/api/v1/tests/", {**body, field: "x" * limit}, format="json")
    assert made.status_code == 201
    path = f"/api/v1/tests/{made.json()['id']}/"
    refused(owner.patch(path, {field: "y" * (limit + 1)}, format="json"), field, limit)
    assert owner.get(path).json()[field] == "x" * limit


# Collections the document does not bound but the code does, each refused beyond its bound by a test:
# overrides — only the keys vt1, vt2, vo2max (test_workflow / test_exercise_tests); lactate steps — 1 to 60 (below).
BOUNDED_IN_CODE = {"PATCH /api/v1/tests/{id}/analysis/ (application/json): overrides{}",
                   "POST /api/v1/tests/{id}/lactate-steps/ (application/json): []"}


def test_every_free_text_field_in_the_document_is_bounded():
    from drf_spectacular.generators import SchemaGenerator

    from servicekit.testing import unbounded_request_fields

    assert set(unbounded_request_fields(SchemaGenerator().get_schema(public=True))) <= BOUNDED_IN_CODE


def test_more_than_60_lactate_steps_are_refused(caller, tenant_a, athlete):
    owner = caller(tenant_a)
    test = owner.post("/api/v1/tests/", {"athlete": athlete["id"], "date": "2026-03-01"}, format="json").json()
    steps = [{"intensity": 50 + 10 * i, "lactate": 1.0} for i in range(61)]
    response = owner.post(f"/api/v1/tests/{test['id']}/lactate-steps", steps, format="json")
    assert response.status_code == 400 and response.json()["type"] == "urn:vo2:problem:validation-error"
    assert owner.get(f"/api/v1/tests/{test['id']}/lactate-steps").json()["steps"] == []
