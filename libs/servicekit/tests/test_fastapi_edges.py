"""The kit's FastAPI mechanism at the edges (issue 12): validation is a 400 problem like every Django service's, and
an unexpected failure is logged with the request and trace ids and answered with the request id."""
import json
import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from servicekit import fastapi as kit_fastapi
from servicekit import requestid


class Body(BaseModel):
    n: int


def make_app() -> FastAPI:
    app = FastAPI()

    @app.post("/things")
    async def things(body: Body):
        return {"n": body.n}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("engine failure")

    kit_fastapi.install(app, "kit-test", configure_logging=False)
    return app


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(requestid.JsonFormatter("kit-test"))
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


def test_request_validation_is_a_400_problem():
    client = TestClient(make_app())
    response = client.post("/things", json={"n": "many"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:vo2:problem:validation-error" and body["status"] == 400
    assert body["errors"][0]["field"] == "n" and body["errors"][0]["code"] == "int_parsing"  # pydantic's code


def test_an_unexpected_failure_is_logged_with_the_request_and_trace_ids():
    handler = Lines()
    logger = logging.getLogger("servicekit.fastapi")
    logger.addHandler(handler)
    try:
        client = TestClient(make_app(), raise_server_exceptions=False)
        response = client.get("/boom", headers={
            "X-Request-ID": "req-500-1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-500-1"
    (line,) = [entry for entry in handler.lines if entry["level"] == "error"]
    assert line["request_id"] == "req-500-1" and "engine failure" in line["exc"]
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_answers_carry_the_security_headers():
    response = TestClient(make_app()).post("/things", json={"n": 1})
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer" and response.headers["x-frame-options"] == "DENY"


def test_the_document_says_400_problem_not_422_http_validation_error():
    schema = TestClient(make_app()).get("/openapi.json").json()
    responses = schema["paths"]["/things"]["post"]["responses"]
    assert "422" not in responses
    assert responses["400"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in str(schema) and "Problem" in schema["components"]["schemas"]
