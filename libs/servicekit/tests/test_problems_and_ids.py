from servicekit import requestid
from servicekit.problems import ProblemError, flatten_field_errors, problem


def test_problem_has_a_stable_type_and_a_human_detail():
    body = problem(404, "not-found", "No athlete with this id.")
    assert body == {"type": "urn:vo2:problem:not-found", "title": "Not Found", "status": 404,
                    "detail": "No athlete with this id."}
    assert ProblemError(409, "conflict", "busy", errors=[{"field": "x", "detail": "y"}]).body()["errors"][0]["field"] == "x"


def test_nested_field_errors_are_flattened():
    errors = flatten_field_errors({"steps": [{}, {"lactate": ["must be positive"]}], "non_field_errors": ["bad"]})
    assert {"field": "steps[1].lactate", "detail": "must be positive"} in errors
    assert {"field": None, "detail": "bad"} in errors


def test_a_drf_field_error_keeps_its_code_for_clients_in_other_languages():
    from rest_framework.exceptions import ErrorDetail

    errors = flatten_field_errors({"first_name": [ErrorDetail("This field is required.", code="required")],
                                   "sex": ["plain text"]})
    assert errors == [{"field": "first_name", "detail": "This field is required.", "code": "required"},
                      {"field": "sex", "detail": "plain text"}]


def test_request_ids_are_kept_when_safe_and_made_otherwise():
    assert requestid.accept_or_make("abc-123") == "abc-123"
    made = requestid.accept_or_make("bad id\nwith newline")
    assert made != "bad id\nwith newline" and len(made) == 32
