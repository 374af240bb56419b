"""The OpenAPI document of every Django service says what the server does (ARCHITECTURE.md: the OpenAPI is the
contract; the web console and generated clients are built from it).

`AutoSchema` (settings: DEFAULT_SCHEMA_CLASS) adds to each operation the problem answers the kit itself sends, so a
view documents only what is its own:

- 400 `validation-error` / `bad-request` / `invalid-cursor` where there is a body or a query parameter;
- 401 and 403 on every authenticated view (no valid token; a role or a token that may not), 402 `plan-expired` on
  its writes (servicekit.plans), 404 where the path names an object;
- 413 and 415 where there is a body; 409 and 422 where the operation takes an `Idempotency-Key`;
- every 4xx/5xx answer as `application/problem+json` with the `Problem` schema (the exception handler sends nothing
  else), keeping a view's own description of it.

Views describe their own statuses with `problem_responses(...)` (descriptions only: the body is always a problem)
and their headers with `location_header()` / `etag_header()` / the Idempotency-Key parameter.
"""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.permissions import AllowAny

from ..problems import PROBLEM_CONTENT_TYPE, PROBLEM_SCHEMA

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
KIT_STATUSES = {
    "400": "The input is invalid (`validation-error` naming the fields in `errors`, `bad-request`, "
           "`invalid-cursor`)",
    "401": "No valid access token (`not-authenticated`)",
    "402": "The organisation's plan has ended: data can be read, not changed (`plan-expired`)",
    "403": "Your role, or this token, may not do this (`forbidden`, `plan-limit`)",
    "404": "No such object here (`not-found`), or it belongs to another organisation",
    "409": "This Idempotency-Key is in use by a request still running, or was used for another request "
           "(`idempotency-key-reused`)",
    "413": "The request body is too large (`payload-too-large`)",
    "415": "The body's Content-Type is not one this operation reads (`unsupported-media-type`)",
    "422": "This Idempotency-Key was used for a different request (`idempotency-key-reused`)",
}


def problem_responses(**descriptions: str) -> dict:
    """`@extend_schema(responses={200: X, **problem_responses(409="`slug`: when")})`: statuses by number as keyword
    `s409=`… or as a dict; each answer's body is the problem schema (AutoSchema adds it)."""
    return {int(status.lstrip("s")): OpenApiResponse(description=text) for status, text in descriptions.items()}


def location_header(statuses=(201,), description: str = "The created object's URL") -> OpenApiParameter:
    return OpenApiParameter("Location", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                            description=description, response=list(statuses))


def etag_header(statuses=(200,)) -> OpenApiParameter:
    return OpenApiParameter("ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                            description="The representation's version: send it as `If-None-Match` for a 304",
                            response=list(statuses))


def if_match_parameter() -> OpenApiParameter:
    return OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                            description="The ETag you read: the change is made only if it is still current, else "
                                        "412 `precondition-failed`")


def binary_response(media_types: tuple[str, ...], description: str) -> dict:
    """A 200 whose body is a file (`application/pdf`, `text/csv`, ...): `responses={(200, *types): ...}` form."""
    return {(200, *media_types): OpenApiResponse(response=OpenApiTypes.BINARY, description=description)}


def _public(view) -> bool:
    permissions = getattr(view, "permission_classes", None) or []
    return not getattr(view, "authentication_classes", True) or (
        bool(permissions) and all(p is AllowAny for p in permissions))


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The kit's TokenAuthentication is the bearer JWT (the gateway's merged document names it `bearerAuth`)."""

    target_class = "servicekit.django.drf.TokenAuthentication"
    match_subclasses = True  # identity's own subclass checks the user is still active
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        self._model_without_a_request()
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        parameters = operation.get("parameters") or []
        # a view's `openapi_array_bounds = {"POST": (1, 60)}`: how many items a JSON array body takes (drf-
        # spectacular documents `Serializer(many=True, min_length=…)` without them)
        if method in getattr(self.view, "openapi_body_required", ()) and "requestBody" in operation:
            operation["requestBody"]["required"] = True  # a view that refuses a request without one says so
        bounds = getattr(self.view, "openapi_array_bounds", {}).get(method)
        for media in ((operation.get("requestBody") or {}).get("content") or {}).values() if bounds else ():
            if media.get("schema", {}).get("type") == "array":
                media["schema"].update(minItems=bounds[0], maxItems=bounds[1])
        has_body = "requestBody" in operation or method in BODY_METHODS and self._body_read(method)
        added = []
        if has_body or any(p.get("in") in ("query", "header") for p in parameters):
            added.append("400")
        if not _public(self.view):
            added += ["401", "403"]
            if method not in ("GET", "HEAD", "OPTIONS"):
                added.append("402")
        if "{" in path:
            added.append("404")
        if has_body:
            added += ["413", "415"]
        if any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in parameters):
            added += ["409", "422"]
            # an idempotent create answers through idempotency.created_response: a 201 names the object in
            # Location (a 202 says its own: a job's status resource, or none); a replay says so
            for status, response in responses.items():
                if str(status) in ("201", "202") and isinstance(response, dict):
                    headers = response.setdefault("headers", {})
                    if str(status) == "201":
                        headers.setdefault("Location", {"schema": {"type": "string"}, "required": True,
                                                        "description": "The created object's URL"})
                    headers.setdefault("Idempotent-Replayed", {
                        "schema": {"type": "string", "enum": ["true"]},
                        "description": "`true` when this answers an earlier request with the same Idempotency-Key "
                                       "(the first object)"})
        for status in added:
            responses.setdefault(status, {"description": KIT_STATUSES[status]})
        for status, response in responses.items():
            if str(status)[:1] in ("4", "5") and isinstance(response, dict) and "$ref" not in response:
                response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": dict(PROBLEM_REF)}}
                if not response.get("description") or response["description"] == "No response body":
                    response["description"] = KIT_STATUSES.get(str(status), "A problem (RFC 9457)")
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        """A serializer's `openapi_extra` (a rule across its fields, e.g. `anyOf` of required sets) joins its
        request schema."""
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        extra = getattr(serializer, "openapi_extra", None)
        if extra and direction == "request":
            for key, value in extra.items():
                if key == "properties":  # a field's schema replaced, the others kept
                    schema.setdefault("properties", {}).update(value)
                else:
                    schema[key] = value
        return schema

    def _model_without_a_request(self) -> None:
        """Views scope their queryset to the caller (`get_queryset` needs a principal, which schema generation has
        not): the model comes from the serializer instead, so path ids are typed (uuid) from the model."""
        view = self.view
        if getattr(view, "queryset", None) is not None or not hasattr(view, "get_serializer_class"):
            return
        try:
            model = view.get_serializer_class().Meta.model
        except Exception:  # no model serializer: nothing to type the ids from
            return
        view.queryset = model._default_manager.none()

    def _body_read(self, method) -> bool:
        """A POST/PUT/PATCH reads a body when its view has parsers (an action with `parser_classes=[]` reads none)."""
        return bool(getattr(self.view, "parser_classes", ()))





def _any_or_null(node):
    """drf-spectacular 0.30 writes a nullable JSONField as `oneOf: [{}, {type: null}]` under OpenAPI 3.1: null
    matches both branches, so no value is valid. `{}` alone (any value, null included) says what was meant."""
    if isinstance(node, list):
        return [_any_or_null(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {key: _any_or_null(value) for key, value in node.items()}
    branches = out.get("oneOf")
    if isinstance(branches, list) and len(branches) == 2 and {} in branches and {"type": "null"} in branches:
        out.pop("oneOf")
    return out


NO_NUL = "^[^\\x00]*$"


def _no_nul_characters(node):
    """DRF's CharField refuses a NUL character (`Null characters are not allowed.`): every free text a request
    sends says so, as a pattern (a string with a format, an enum or a pattern of its own is left as it is)."""
    if isinstance(node, list):
        for value in node:
            _no_nul_characters(value)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    if (types == "string" or isinstance(types, list) and "string" in types) and not (
            {"format", "enum", "pattern", "const"} & set(node)):
        node["pattern"] = NO_NUL
    for value in node.values():
        _no_nul_characters(value)


def postprocess(result, generator, request, public):
    """SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS (after drf-spectacular's own enum hook)."""
    result = _any_or_null(result)
    for name, schema in (result.get("components") or {}).get("schemas", {}).items():
        if name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST: what requests send
            _no_nul_characters(schema)
            if schema.get("type") == "object" and "properties" in schema:
                # servicekit.django.serializers refuses a field the endpoint does not know
                schema.setdefault("additionalProperties", False)
    return result
