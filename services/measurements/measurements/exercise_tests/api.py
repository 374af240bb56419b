"""HTTP layer of exercise tests: CRUD with filters, samples (JSON/CSV, averaged), lactate steps, the analysis."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from servicekit.django import idempotency
from servicekit.django.drf import StaffWrites, principal_of
from servicekit.problems import ProblemError

from ..athletes.queries import visible_athletes
from ..infra.analysis_client import AnalysisProblem, AnalysisUnavailable
from ..infra.renderers import ColumnsCSVRenderer
from ..infra.routers import UUID_REGEX
from ..results import actions as result_actions
from ..results import queries as result_queries
from ..results.models import AnalysisAudit
from . import actions, lactate_files, queries
from .models import ExerciseTest


class VisibleAthleteField(serializers.PrimaryKeyRelatedField):
    """An athlete id the caller may see (looked up per request: the tenant comes from the caller's token)."""

    def get_queryset(self):
        return visible_athletes(principal_of(self.context["request"]))


class ExerciseTestSerializer(serializers.ModelSerializer):
    athlete = VisibleAthleteField(pk_field=serializers.UUIDField())
    temperature_c = serializers.FloatField(min_value=-30, max_value=60, required=False, allow_null=True)
    humidity_pct = serializers.FloatField(min_value=0, max_value=100, required=False, allow_null=True)
    pressure_hpa = serializers.FloatField(min_value=500, max_value=1100, required=False, allow_null=True)
    protocol_start = serializers.FloatField(min_value=0, max_value=2000, required=False, allow_null=True)
    protocol_increment = serializers.FloatField(min_value=0, max_value=1000, required=False, allow_null=True)
    protocol_stage_length_s = serializers.FloatField(min_value=0, max_value=7200, required=False, allow_null=True)

    class Meta:
        model = ExerciseTest
        fields = ("id", "athlete", "date", "modality", "protocol", "protocol_start", "protocol_increment",
                  "protocol_stage_length_s", "device", "temperature_c", "humidity_pct", "pressure_hpa", "notes",
                  "status", "source_format", "sample_count", "created_at", "updated_at")
        read_only_fields = ("id", "status", "source_format", "sample_count", "created_at", "updated_at")

    def validate_athlete(self, athlete):
        if self.instance is not None and athlete.pk != self.instance.athlete_id:
            raise serializers.ValidationError("a test cannot move to another athlete")
        return athlete

    def validate_date(self, value):
        import datetime

        if not datetime.date(1950, 1, 1) <= value <= datetime.date.today() + datetime.timedelta(days=1):
            raise serializers.ValidationError("the test date must be between 1950-01-01 and today")
        return value


class ExerciseTestFilter(django_filters.FilterSet):
    athlete = django_filters.UUIDFilter(field_name="athlete_id")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", label="date on or after")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", label="date on or before")
    modality = django_filters.ChoiceFilter(choices=ExerciseTest.Modality.choices)
    status = django_filters.ChoiceFilter(choices=ExerciseTest.Status.choices)

    class Meta:
        model = ExerciseTest
        fields = ("athlete", "modality", "status")


class LactateStepSerializer(serializers.Serializer):
    intensity = serializers.FloatField(min_value=0, max_value=2000)
    lactate = serializers.FloatField(min_value=0, max_value=40)
    heart_rate = serializers.FloatField(min_value=20, max_value=250, required=False, allow_null=True)
    rpe = serializers.FloatField(min_value=0, max_value=20, required=False, allow_null=True)
    length_s = serializers.FloatField(min_value=0, max_value=7200, required=False, allow_null=True)


THRESHOLD_KEYS = ("time_s", "vo2_ml_min", "hr_bpm", "power_w", "speed_kmh")


class ThresholdOverrideSerializer(serializers.Serializer):
    time_s = serializers.FloatField(required=False, min_value=-600, max_value=36000)
    vo2_ml_min = serializers.FloatField(required=False, min_value=100, max_value=9000)
    hr_bpm = serializers.FloatField(required=False, min_value=20, max_value=250)
    power_w = serializers.FloatField(required=False, min_value=0, max_value=2500)
    speed_kmh = serializers.FloatField(required=False, min_value=0, max_value=45)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(THRESHOLD_KEYS)
            if unknown:
                raise serializers.ValidationError(f"unknown fields: {', '.join(sorted(unknown))}")
        return super().to_internal_value(data)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("name the threshold by time_s, vo2_ml_min, hr_bpm, power_w or speed_kmh")
        return attrs


class AnalysisPatchSerializer(serializers.Serializer):
    overrides = serializers.DictField(child=ThresholdOverrideSerializer(allow_null=True), required=False)
    exclude = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(min_value=-600, max_value=36000), min_length=2,
                                    max_length=2), required=False, max_length=100)

    def validate_overrides(self, value):
        unknown = set(value) - {"vt1", "vt2"}
        if unknown:
            raise serializers.ValidationError(f"only vt1 and vt2 can be overridden, not {', '.join(sorted(unknown))}")
        return value

    def validate(self, attrs):
        if "overrides" not in attrs and "exclude" not in attrs:
            raise serializers.ValidationError("send overrides and/or exclude")
        return attrs


def analysis_unavailable(exc: Exception) -> ProblemError:
    return ProblemError(503, "analysis-unavailable", f"The analysis service could not answer: {exc}",
                        headers={"Retry-After": "5"})


def analysis_refused(exc: AnalysisProblem) -> ProblemError:
    return ProblemError(422, "analysis-refused", exc.problem.get("detail") or str(exc),
                        errors=exc.problem.get("errors"))


class ExerciseTestViewSet(viewsets.ModelViewSet):
    """Exercise tests of the tenant's athletes. Owners, admins and physiologists write; athletes see their own."""

    serializer_class = ExerciseTestSerializer
    permission_classes = [StaffWrites]
    filterset_class = ExerciseTestFilter
    lookup_value_regex = UUID_REGEX
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_queryset(self):
        return queries.visible_tests(principal_of(self.request))

    @extend_schema(parameters=[idempotency.openapi_parameter()])
    def create(self, request, *args, **kwargs):
        key = idempotency.key_from(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        test, created = actions.create_test_once(principal_of(request), key, **serializer.validated_data)
        return idempotency.created_response(self.get_serializer(test).data, f"/api/v1/tests/{test.id}/", created)

    def perform_update(self, serializer):
        serializer.instance = actions.update_test(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_test(instance, by=principal_of(self.request).user_id)

    # ---- samples -----------------------------------------------------------------------------------------------
    @action(detail=True, methods=["get"], url_path="samples", renderer_classes=[JSONRenderer, ColumnsCSVRenderer],
            filterset_class=None, pagination_class=None)
    def samples(self, request, pk=None):
        """Samples column-wise (JSON) or as CSV (`?format=csv` or `Accept: text/csv`); `?average=10` bins seconds."""
        test = self.get_object()
        average = request.query_params.get("average")
        if average not in (None, ""):
            try:
                average = float(average)
            except ValueError:
                average = -1
            if not 1 <= average <= 600:
                raise ProblemError(400, "validation-error", "average: seconds between 1 and 600",
                                   errors=[{"field": "average", "detail": "seconds between 1 and 600"}])
        else:
            average = None
        columns = queries.samples_columns(test, average)
        body = {"test": str(test.pk), "count": len(columns["time_s"]), "average_s": average,
                "columns": queries.present_columns(columns)}
        response = Response(body)
        if getattr(request, "accepted_renderer", None) and request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="test-{test.pk}-samples.csv"'
        return response

    # ---- lactate steps -----------------------------------------------------------------------------------------
    @action(detail=True, methods=["get", "post"], url_path="lactate-steps",
            parser_classes=[JSONParser, MultiPartParser], filterset_class=None, pagination_class=None)
    def lactate_steps(self, request, pk=None):
        """GET the steps; POST a JSON list (replaces) or a CSV/XLSX file (`file`) → steps and lactate thresholds."""
        test = self.get_object()
        if request.method == "GET":
            return Response({"test": str(test.pk), "steps": queries.lactate_step_dicts(test)})
        if request.content_type and request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise ProblemError(400, "validation-error", "file: a CSV or XLSX file is required",
                                   errors=[{"field": "file", "detail": "required"}])
            rows = lactate_files.read_steps(upload.name or "", upload.read(2 * 1024 * 1024 + 1))
        else:
            rows = request.data
        if not isinstance(rows, list) or not 1 <= len(rows) <= 60:
            raise ProblemError(400, "validation-error", "send a list of 1 to 60 steps",
                               errors=[{"field": None, "detail": "a list of 1 to 60 steps"}])
        serializer = LactateStepSerializer(data=rows, many=True)
        serializer.is_valid(raise_exception=True)
        before = queries.lactate_step_dicts(test)
        actions.replace_lactate_steps(test, serializer.validated_data)
        try:
            row, _ = result_actions.analyze_test(
                test, user_id=principal_of(request).user_id, action=AnalysisAudit.Action.LACTATE,
                changes={"lactate_steps": {"before": before, "after": queries.lactate_step_dicts(test)}})
        except AnalysisUnavailable as exc:
            raise analysis_unavailable(exc) from exc
        except AnalysisProblem as exc:
            raise analysis_refused(exc) from exc
        return Response({"test": str(test.pk), "steps": queries.lactate_step_dicts(test),
                         "lactate_thresholds": row.lactate if row else None,
                         "version": row.version if row else None})

    # ---- analysis ----------------------------------------------------------------------------------------------
    @action(detail=True, methods=["get", "patch"], url_path="analysis", filterset_class=None, pagination_class=None)
    def analysis(self, request, pk=None):
        """GET the stored result (`?version=n` for an older one); PATCH overrides/exclusions → a new version."""
        test = self.get_object()
        if request.method == "GET":
            version = request.query_params.get("version")
            if version:
                if not version.isdigit():
                    raise ProblemError(400, "validation-error", "version: a positive integer",
                                       errors=[{"field": "version", "detail": "a positive integer"}])
                row = result_queries.result_version(test, int(version))
            else:
                row = result_queries.latest_result(test)
            if row is None:
                raise ProblemError(404, "no-analysis", "This test has no stored analysis (yet).")
            return Response(result_queries.result_body(row))
        serializer = AnalysisPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not test.sample_count:
            raise ProblemError(409, "no-samples", "This test has no samples to analyse; import a file first.")
        latest = result_queries.latest_result(test)
        before = dict(latest.overrides) if latest else {}
        after = dict(before)
        for name, value in (serializer.validated_data.get("overrides") or {}).items():
            if value is None:
                after.pop(name, None)
            else:
                after[name] = dict(value)
        if "exclude" in serializer.validated_data:
            exclude = [sorted(pair) for pair in serializer.validated_data["exclude"]]
            if exclude:
                after["exclude"] = exclude
            else:
                after.pop("exclude", None)
        try:
            row, created = result_actions.analyze_test(
                test, user_id=principal_of(request).user_id, action=AnalysisAudit.Action.OVERRIDE, overrides=after,
                changes={"overrides": {"before": before, "after": after}})
        except AnalysisUnavailable as exc:
            raise analysis_unavailable(exc) from exc
        except AnalysisProblem as exc:
            raise analysis_refused(exc) from exc
        body = result_queries.result_body(row)
        body["recomputed"] = created
        return Response(body, status=status.HTTP_200_OK)

    @action(detail=True, methods=["get"], url_path="analysis/versions", filterset_class=None, pagination_class=None)
    def analysis_versions(self, request, pk=None):
        """Every stored version with who changed what and when."""
        test = self.get_object()
        audit = {}
        for row in result_queries.audit_rows(test):
            audit.setdefault(row.version, []).append(
                {"action": row.action, "user_id": str(row.user_id) if row.user_id else None,
                 "at": row.at.isoformat().replace("+00:00", "Z"), "changes": row.changes})
        return Response({"test": str(test.pk), "versions": [
            {"version": r.version, "computed_at": r.computed_at.isoformat().replace("+00:00", "Z"),
             "computed_by": str(r.computed_by) if r.computed_by else None, "engine_version": r.engine_version,
             "overrides": r.overrides, "audit": audit.get(r.version, [])}
            for r in result_queries.versions(test)]})
