"""HTTP layer of results: a test's stored analysis (GET, PATCH overrides), its versions, its lactate steps (which
re-derive the result), and an athlete's progress across tests. Views validate and delegate to actions/queries."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from servicekit.django import serializers as strict
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django import conditional
from servicekit.django.drf import StaffWrites, principal_of
from servicekit.django.schema import etag_header, if_match_parameter, problem_responses
from servicekit.problems import ProblemError
from servicekit.tenancy import tenant_transaction

from ..athletes.queries import visible_athletes
from ..exercise_tests import queries as test_queries
from . import actions, lactate_files, queries


# What the views answer, as the document says it (the engine's result has many more keys than listed here).
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
RESULT_SCHEMA = {
    "type": "object", "additionalProperties": True,
    "description": "The analysis service's CPET result (vo2max, thresholds, zones, ...) and what is kept about this "
                   "version",
    "required": ["test", "version", "computed_at", "overrides"],
    "properties": {
        "test": {"type": "string", "format": "uuid"}, "version": {"type": "integer"},
        "computed_at": {"type": "string", "format": "date-time"}, "computed_by": NULLABLE_UUID,
        "engine_version": {"type": ["string", "null"]}, "zone_model": {"type": "string"},
        "overrides": {"type": ["object", "null"], "additionalProperties": True},
        "lactate_thresholds": {"type": ["object", "null"], "additionalProperties": True},
        "vo2max": {"type": ["object", "null"], "additionalProperties": True},
        "vt1": {"type": ["object", "null"], "additionalProperties": True},
        "vt2": {"type": ["object", "null"], "additionalProperties": True},
        "zones": {},
    }}
PATCHED_RESULT_SCHEMA = {**RESULT_SCHEMA, "properties": {
    **RESULT_SCHEMA["properties"], "recomputed": {"type": "boolean", "description": "a new version was made"}}}
VERSIONS_SCHEMA = {"type": "object", "required": ["test", "versions"], "properties": {
    "test": {"type": "string", "format": "uuid"},
    "versions": {"type": "array", "items": {"type": "object", "required": ["version", "computed_at"], "properties": {
        "version": {"type": "integer"}, "computed_at": {"type": "string", "format": "date-time"},
        "computed_by": NULLABLE_UUID, "engine_version": {"type": ["string", "null"]},
        "overrides": {"type": ["object", "null"], "additionalProperties": True},
        "audit": {"type": "array", "items": {"type": "object", "properties": {
            "action": {"type": "string"}, "user_id": NULLABLE_UUID, "at": {"type": "string", "format": "date-time"},
            "changes": {}}}}}}}}}
STEP_SCHEMA = {"type": "object", "additionalProperties": True, "properties": {
    "intensity": {"type": "number"}, "lactate": {"type": "number"}, "heart_rate": {"type": ["number", "null"]},
    "rpe": {"type": ["number", "null"]}, "length_s": {"type": ["number", "null"]}}}
STEPS_SCHEMA = {"type": "object", "required": ["test", "steps"], "properties": {
    "test": {"type": "string", "format": "uuid"}, "steps": {"type": "array", "items": STEP_SCHEMA}}}
STEPS_SAVED_SCHEMA = {**STEPS_SCHEMA, "properties": {
    **STEPS_SCHEMA["properties"], "lactate_thresholds": {"type": ["object", "null"], "additionalProperties": True},
    "version": {"type": ["integer", "null"], "description": "the result version made (null: the test has none)"}}}
NOT_MODIFIED = OpenApiResponse(description="`If-None-Match` named the current ETag: not sent again")
PROGRESS_SCHEMA = {"type": "object", "additionalProperties": True,
                   "description": "VO2max, VT1/VT2 and zones across the athlete's analysed tests in date order"}


def visible_test(request, pk):
    return get_object_or_404(test_queries.visible_tests(principal_of(request)), pk=pk)


class LactateStepSerializer(strict.Serializer):
    intensity = serializers.FloatField(min_value=0, max_value=2000)
    lactate = serializers.FloatField(min_value=0, max_value=40)
    heart_rate = serializers.FloatField(min_value=20, max_value=250, required=False, allow_null=True)
    rpe = serializers.FloatField(min_value=0, max_value=20, required=False, allow_null=True)
    length_s = serializers.FloatField(min_value=0, max_value=7200, required=False, allow_null=True)


THRESHOLD_KEYS = ("time_s", "vo2_ml_min", "hr_bpm", "power_w", "speed_kmh")


class ThresholdOverrideSerializer(strict.Serializer):
    time_s = serializers.FloatField(required=False, min_value=-600, max_value=36000)
    vo2_ml_min = serializers.FloatField(required=False, min_value=100, max_value=9000)
    hr_bpm = serializers.FloatField(required=False, min_value=20, max_value=250)
    power_w = serializers.FloatField(required=False, min_value=0, max_value=2500)
    speed_kmh = serializers.FloatField(required=False, min_value=0, max_value=45)

    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(THRESHOLD_KEYS) - {"reason"}
            if unknown:
                raise serializers.ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        return super().to_internal_value(data)

    def validate(self, attrs):
        if not set(attrs) & set(THRESHOLD_KEYS):
            raise serializers.ValidationError("name the threshold by time_s, vo2_ml_min, hr_bpm, power_w or speed_kmh")
        return attrs


class VO2maxOverrideSerializer(strict.Serializer):
    """VO2max set by hand (e.g. from a verification bout): the value and why."""
    vo2_ml_min = serializers.FloatField(min_value=50, max_value=8000)
    reason = serializers.CharField(max_length=500)


class OverridesField(serializers.DictField):
    """{"vt1"?: threshold | null, "vt2"?: threshold | null, "vo2max"?: {vo2_ml_min, reason} | null}."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("an object with vt1, vt2 and/or vo2max")
        unknown = set(data) - {"vt1", "vt2", "vo2max"}
        if unknown:
            raise serializers.ValidationError(f"only vt1, vt2 and vo2max can be overridden, not "
                                              f"{', '.join(sorted(unknown))}")
        out, errors = {}, {}
        for name, value in data.items():
            if value is None:
                out[name] = None
                continue
            field = VO2maxOverrideSerializer(data=value) if name == "vo2max" else ThresholdOverrideSerializer(data=value)
            if field.is_valid():
                out[name] = dict(field.validated_data)
            else:
                errors[name] = field.errors
        if errors:
            raise serializers.ValidationError(errors)
        return out


class AnalysisPatchSerializer(strict.Serializer):
    """A change: overrides, exclude or `recompute: true`, each optional by itself, at least one of them (else 400)."""
    # said in words, not as an `anyOf` of required sets: generated clients made that a union of three body types

    overrides = OverridesField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                   help_text="why (kept in the audit with who, when, the old and the new values)")
    recompute = serializers.BooleanField(required=False, default=False,
                                         help_text="re-analyse with the tenant's current settings (a new version "
                                                   "only when a result would differ)")
    exclude = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(min_value=-600, max_value=36000), min_length=2,
                                    max_length=2), required=False, max_length=100)

    def validate(self, attrs):
        if "overrides" not in attrs and "exclude" not in attrs and not attrs.get("recompute"):
            raise serializers.ValidationError("send overrides and/or exclude (or recompute: true)")
        return attrs


class TestAnalysisView(APIView):
    """GET the stored result (`?version=n` for an older one); PATCH overrides/exclusions → a new version.

    Not one request transaction (urls.py: non-atomic): a PATCH must not hold a transaction open while the analysis
    service computes, so each read and write here runs in its own short tenant transaction."""

    permission_classes = [StaffWrites]

    @extend_schema(responses={200: RESULT_SCHEMA, 304: NOT_MODIFIED, **problem_responses(
        s404="`not-found`: no such test here; `no-analysis`: the test has no stored analysis (yet), or no such "
             "version")}, parameters=[etag_header((200, 304)),
        OpenApiParameter("version", {"type": "integer", "minimum": 1},
                         description="an older version of the result (default: the current one)")])
    def get(self, request, pk):
        version = request.query_params.get("version")
        if version and not version.isdigit():
            raise ProblemError(400, "validation-error", "version: a positive integer",
                               errors=[{"field": "version", "detail": "a positive integer"}])
        with tenant_transaction(principal_of(request).tenant_id):  # the view is non-atomic (see patch)
            test = visible_test(request, pk)
            row = queries.result_version(test, int(version)) if version else queries.latest_result(test)
            if row is None:
                raise ProblemError(404, "no-analysis", "This test has no stored analysis (yet).")
            # a strong ETag of the answer: it changes with the result, overrides, engine version (If-None-Match → 304)
            return conditional.respond(request, queries.result_body(row))

    @extend_schema(request=AnalysisPatchSerializer, parameters=[if_match_parameter(), etag_header((200,))],
                   responses={200: PATCHED_RESULT_SCHEMA, **problem_responses(
        s412="`precondition-failed`: `If-Match` names a version that is no longer current",
        s404="`not-found`: no such test here; `no-analysis`: nothing to override yet",
        s409="the test has no samples to re-analyse, or another change came first",
        s422="`invalid-override`: an override does not fit the test (the field and the allowed range in `errors`)",
        s503="`unavailable`: the analysis service cannot be reached")})
    def patch(self, request, pk):
        principal = principal_of(request)
        with tenant_transaction(principal.tenant_id):
            test = visible_test(request, pk)  # another lab's test is 404 whatever the body (then 400 on a bad one)
            patch = AnalysisPatchSerializer(data=request.data)
            patch.is_valid(raise_exception=True)
            test_id, expected_version = test.pk, None
            if request.headers.get("If-Match"):  # a change against the version the caller read, else 412
                latest = queries.latest_result(test)
                conditional.require_match(request, conditional.etag_of(queries.result_body(latest)) if latest else None)
                expected_version = latest.version
        row, created = actions.override(test_id, tenant_id=principal.tenant_id, user_id=principal.user_id,
                                        expected_version=expected_version,
                                        thresholds=patch.validated_data.get("overrides"),
                                        exclude=patch.validated_data.get("exclude"),
                                        reason=patch.validated_data.get("reason") or _reason_of(patch.validated_data),
                                        recompute_only=patch.validated_data.get("recompute", False)
                                        and "overrides" not in patch.validated_data
                                        and "exclude" not in patch.validated_data)
        body = queries.result_body(row)
        return Response({**body, "recomputed": created}, headers={conditional.ETAG: conditional.etag_of(body)})


def _reason_of(data: dict) -> str | None:
    """A reason given inside an override (vo2max's is required) when the PATCH gave none of its own."""
    for value in (data.get("overrides") or {}).values():
        if isinstance(value, dict) and value.get("reason"):
            return value["reason"]
    return None


class TestAnalysisVersionsView(APIView):
    """Every stored version with who changed what and when."""

    permission_classes = [StaffWrites]

    @extend_schema(responses={200: VERSIONS_SCHEMA, 304: NOT_MODIFIED}, parameters=[etag_header((200, 304))])
    def get(self, request, pk):
        return conditional.respond(request, queries.versions_body(visible_test(request, pk)))


class TestLactateStepsView(APIView):
    """GET the steps; POST a JSON list (replaces) or a CSV/XLSX file (`file`) → steps and lactate thresholds."""

    openapi_array_bounds = {"POST": (1, 60)}  # the list POST takes (servicekit.django.schema)

    permission_classes = [StaffWrites]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(responses={200: STEPS_SCHEMA, 304: NOT_MODIFIED}, parameters=[etag_header((200, 304))])
    def get(self, request, pk):
        test = visible_test(request, pk)
        return conditional.respond(request, {"test": str(test.pk), "steps": test_queries.lactate_step_dicts(test)})

    @extend_schema(request={"application/json": LactateStepSerializer(many=True),
                            "multipart/form-data": {"type": "object", "properties": {
                                "file": {"type": "string", "format": "binary"}}}},
                   responses={200: STEPS_SAVED_SCHEMA, **problem_responses(
                       s422="the CSV/XLSX cannot be read as steps, or the steps cannot be analysed",
                       s503="`unavailable`: the analysis service cannot be reached")})
    def post(self, request, pk):
        test = visible_test(request, pk)
        if request.content_type and request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise ProblemError(400, "validation-error", "file: a CSV or XLSX file is required",
                                   errors=[{"field": "file", "detail": "required"}])
            rows = lactate_files.read_steps(upload.name or "", upload.read(lactate_files.MAX_BYTES + 1))
        else:
            rows = request.data
        if not isinstance(rows, list) or not 1 <= len(rows) <= 60:
            raise ProblemError(400, "validation-error", "send a list of 1 to 60 steps",
                               errors=[{"field": None, "detail": "a list of 1 to 60 steps"}])
        steps = LactateStepSerializer(data=rows, many=True)
        steps.is_valid(raise_exception=True)
        row = actions.replace_lactate_steps(test, steps.validated_data, user_id=principal_of(request).user_id)
        return Response({"test": str(test.pk), "steps": test_queries.lactate_step_dicts(test),
                         "lactate_thresholds": row.lactate if row else None,
                         "version": row.version if row else None})


class AthleteProgressView(APIView):
    """VO2max (abs/rel), VT1/VT2 and zones across the athlete's tests in date order, with meaningful changes."""

    permission_classes = [StaffWrites]

    @extend_schema(responses={200: PROGRESS_SCHEMA, 304: NOT_MODIFIED}, parameters=[etag_header((200, 304))])
    def get(self, request, pk):
        athlete = get_object_or_404(visible_athletes(principal_of(request)), pk=pk)
        return conditional.respond(request, queries.progress(athlete))


def _default_or_method(attrs: dict) -> dict:
    """{} is the default strategy (what a GET answers for it); any option needs its method."""
    if attrs and "method" not in attrs:
        raise serializers.ValidationError({"method": ["This field is required with the other options; {} is the "
                                                      "default."]}, code="required")
    return attrs


class AveragingSerializer(strict.Serializer):
    method = serializers.ChoiceField(choices=["time", "breath", "bin", "butterworth"], required=False)
    seconds = serializers.IntegerField(required=False, min_value=5, max_value=120)
    breaths = serializers.IntegerField(required=False, min_value=3, max_value=60)
    cutoff = serializers.FloatField(required=False, min_value=0.001, max_value=0.999)
    order = serializers.IntegerField(required=False, min_value=1, max_value=8)

    def validate(self, attrs):
        return _default_or_method(attrs)


class OutliersSerializer(strict.Serializer):
    method = serializers.ChoiceField(choices=["none", "lamarra", "prediction_band"], required=False)
    sd = serializers.FloatField(required=False, min_value=1, max_value=10)
    level = serializers.FloatField(required=False, min_value=0.5, max_value=0.999)

    def validate(self, attrs):
        return _default_or_method(attrs)


class AnalysisSettingsSerializer(strict.Serializer):
    averaging = AveragingSerializer(required=False, allow_null=True,
                                    help_text="averaging strategy (default: 30-s moving time average, as spiro)")
    outliers = OutliersSerializer(required=False, allow_null=True,
                                  help_text="outlier removal, breath-by-breath data only (default: none)")
    zone_model = serializers.ChoiceField(choices=["three_zone", "five_zone"], required=False)
    meaningful_change_pct = serializers.FloatField(required=False, allow_null=True, min_value=0.5, max_value=50,
                                                   help_text="VO2max change flagged in progress")
    # what a GET answers besides the settings: known, so the GET's body can be PUT back
    updated_at = serializers.DateTimeField(read_only=True)
    updated_by = serializers.UUIDField(read_only=True)


SETTINGS_SCHEMA = {"type": "object", "required": ["averaging", "outliers", "zone_model", "meaningful_change_pct"],
                   "properties": {
                       "averaging": {"type": "object", "properties": {
                           "method": {"type": "string", "enum": ["time", "breath", "bin", "butterworth"]},
                           "seconds": {"type": "integer", "minimum": 5, "maximum": 120},
                           "breaths": {"type": "integer", "minimum": 3, "maximum": 60},
                           "cutoff": {"type": "number", "minimum": 0.001, "maximum": 0.999},
                           "order": {"type": "integer", "minimum": 1, "maximum": 8}},
                           "description": "the averaging strategy (AveragingRequest as PUT takes it); {} = the "
                                          "default (30-s time average)"},
                       "outliers": {"type": "object", "additionalProperties": True,
                                    "description": "outlier removal; {} = none"},
                       "zone_model": {"type": "string", "enum": ["three_zone", "five_zone"]},
                       "meaningful_change_pct": {"type": "number"},
                       "updated_at": {"type": ["string", "null"], "format": "date-time"},
                       "updated_by": NULLABLE_UUID}}


class AnalysisSettingsView(APIView):
    """The tenant's analysis defaults: GET them; PUT (owner, admin, physiologist) → used by every new analysis and by
    re-analyses (a test's next result; every result echoes the strategy it used)."""

    permission_classes = [StaffWrites]

    @extend_schema(responses={200: SETTINGS_SCHEMA})
    def get(self, request):
        return Response(queries.settings_body(queries.analysis_settings(principal_of(request).tenant_id)))

    @extend_schema(request=AnalysisSettingsSerializer, responses={200: SETTINGS_SCHEMA})
    def put(self, request):
        form = AnalysisSettingsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        principal = principal_of(request)
        row = actions.save_settings(principal.tenant_id, by=principal.user_id, **form.validated_data)
        return Response(queries.settings_body(row))
