"""HTTP layer of imports: upload (202 + status resource), status with progress, re-run. Views validate, call an
action, and hand the accepted import to its task."""
from __future__ import annotations

import django_filters
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from servicekit.django import serializers as strict
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from servicekit import jobs
from servicekit.django import idempotency
from servicekit.django.drf import StaffWrites, principal_of, roles_allowed
from servicekit.principal import MANAGER_ROLES, STAFF_ROLES
from servicekit.django.routers import UUID_REGEX
from servicekit.django.schema import location_header, problem_responses
from servicekit.problems import ProblemError

from django.shortcuts import get_object_or_404
from rest_framework.views import APIView

from ..athletes.queries import visible_athletes
from ..exercise_tests import queries as test_queries
from ..exercise_tests.models import ExerciseTest
from . import actions, heart_rate, queries, tasks, warning_details
from .models import Import

MULTIPART_SLACK = 64 * 1024  # boundaries and the small form fields around the file


def too_large() -> ProblemError:
    limit = settings.MAX_UPLOAD_BYTES
    return ProblemError(413, "payload-too-large", f"The upload is larger than the limit of {limit:,} bytes.",
                        limit_bytes=limit)


class SizeLimitUploadHandler(FileUploadHandler):
    """First in the chain: counts the file's bytes as they stream in and stops at the limit (no Content-Length
    needed, nothing read whole)."""

    def __init__(self, request=None, limit: int = 0):
        super().__init__(request)
        self.limit, self.seen = limit, 0

    def receive_data_chunk(self, raw_data, start):
        self.seen += len(raw_data)
        if self.seen > self.limit:
            raise too_large()
        return raw_data

    def file_complete(self, file_size):
        return None


# What a client sees as the import's status: the job's stage while it runs.
STATUSES = (jobs.Status.QUEUED, *Import.Stage.values, jobs.Status.DONE, jobs.Status.FAILED)


class ImportWarningSerializer(strict.Serializer):
    code = serializers.CharField(help_text=(
        "stable: one of the analysis service's reader codes (`ReaderWarningCode`), a result's quality flag "
        "(`athlete_mismatch:<field>`, `insufficient`), or `reader_note` (a text without a code; `params.text`). "
        "Show `message` for a code you do not know."))
    params = serializers.DictField(help_text="the figures and names in the text (column, counts, values)")
    message = serializers.CharField(help_text="the English text, as in `warnings`")


class ImportSerializer(strict.ModelSerializer):
    athlete = serializers.UUIDField(source="athlete_id", read_only=True)
    test = serializers.UUIDField(source="test_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=STATUSES, source="public_status", read_only=True)
    error = serializers.JSONField(source="problem", read_only=True, allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True,
                                     help_text="the reader's and the result's warnings, in English")
    warning_details = serializers.SerializerMethodField(
        help_text="the same warnings, in the same order, each with its stable code and params")

    class Meta:
        model = Import
        fields = ("id", "athlete", "status", "progress", "test", "error", "filename", "size_bytes", "sha256",
                  "format_hint", "detected_format", "warnings", "warning_details", "generation", "attempts",
                  "created_at", "updated_at", "finished_at")
        read_only_fields = fields

    @extend_schema_field(ImportWarningSerializer(many=True))
    def get_warning_details(self, imp: Import) -> list[dict]:
        return warning_details.of(imp)


class UploadSerializer(strict.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    athlete = serializers.UUIDField()
    format = serializers.RegexField(r"^[a-z0-9_-]{1,40}$", required=False, allow_blank=True, max_length=40)
    modality = serializers.ChoiceField(choices=ExerciseTest.Modality.choices, required=False, allow_blank=True)


class ImportFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[(s, s) for s in STATUSES], method="filter_status")
    # by id, as the tests' filter (a model choice would look the athlete up outside the request's tenant: 400)
    athlete = django_filters.UUIDFilter(field_name="athlete_id")

    class Meta:
        model = Import
        fields = ("status", "athlete")

    def filter_status(self, queryset, name, value):
        if value in Import.Stage.values:
            return queryset.filter(status=jobs.Status.RUNNING, stage=value)
        return queryset.filter(status=value)


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Uploads of cart exports. Staff upload and re-run; athletes see imports of their own record."""

    serializer_class = ImportSerializer
    permission_classes = [StaffWrites]
    parser_classes = [MultiPartParser]
    lookup_value_regex = UUID_REGEX
    filterset_class = ImportFilter

    def get_queryset(self):
        return queries.visible_imports(principal_of(self.request))

    @extend_schema(request={"multipart/form-data": UploadSerializer},
                   responses={202: ImportSerializer, **problem_responses(
                       s400="`validation-error`: no file, an empty file, no such athlete here, a bad `format` or "
                            "`modality`", s403="your role may not upload, or a plan quota (imports per month, "
                            "storage) is reached (`plan-limit`)",
                       s413="`payload-too-large`: the upload is over the limit")},
                   parameters=[idempotency.openapi_parameter(),
                               location_header((202,), "The import's status resource (poll it)")])
    def create(self, request):
        """multipart `file`, `athlete`, optional `format` hint and `modality`; header `Idempotency-Key`."""
        limit = settings.MAX_UPLOAD_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + MULTIPART_SLACK:
            raise too_large()  # refused before a byte of the body is read
        key = idempotency.key_from(request)
        principal = principal_of(request)
        # a repeated key is answered once the file is read: the same file is the first import (a replay), another
        # file (or athlete, format, modality) is 422 idempotency-key-reused (the IETF Idempotency-Key draft)
        request._request.upload_handlers = [SizeLimitUploadHandler(request._request, limit),
                                            *request._request.upload_handlers]
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        athlete = visible_athletes(principal).filter(pk=data["athlete"]).first()
        if athlete is None:
            raise ProblemError(400, "validation-error", "athlete: no such athlete here",
                               errors=[{"field": "athlete", "detail": "no such athlete here"}])
        imp, created = actions.accept_upload(principal, athlete, data["file"], format_hint=data.get("format") or "",
                                             modality=data.get("modality") or "", idempotency_key=key)
        if created:
            tasks.run_import.enqueue(str(imp.pk), str(imp.tenant_id))
        return self.accepted(imp, created)

    def accepted(self, imp: Import, created: bool) -> Response:
        return idempotency.created_response(ImportSerializer(imp).data, f"/api/v1/imports/{imp.pk}", created,
                                            status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ImportSerializer, **problem_responses(
        s409="`import-running`: it is still running; `file-gone`: the upload is no longer stored")},
        parameters=[location_header((202,), "The import's status resource")])
    @action(detail=True, methods=["post"], url_path="rerun", parser_classes=[])
    def rerun(self, request, pk=None):
        """Run the stored file through the pipeline again → 202 with the import."""
        imp = actions.request_rerun(self.get_object())
        tasks.run_import.enqueue(str(imp.pk), str(imp.tenant_id))
        return Response(ImportSerializer(imp).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/imports/{imp.pk}"})


class HeartRateUploadSerializer(strict.Serializer):
    file = serializers.FileField(help_text="the track: FIT, TCX, or CSV with a time and a heart-rate column")
    offset_s = serializers.FloatField(required=False, allow_null=True, min_value=-86400, max_value=86400,
                                      help_text="test time at which the track starts (when there are no time stamps)")
    replace = serializers.BooleanField(required=False, default=False,
                                       help_text="overwrite a heart rate the cart recorded")


class TestHeartRateView(APIView):
    """POST a heart-rate track onto a test → aligned (says how), stored as its HR channel, result re-derived."""

    permission_classes = [StaffWrites]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": HeartRateUploadSerializer},
                   responses={200: {"type": "object", "properties": {
                       "test": {"type": "string"}, "format": {"type": "string", "enum": ["fit", "tcx", "csv"]},
                       "method": {"type": "string", "enum": ["timestamps", "offset", "correlation"]},
                       "offset_s": {"type": "number"}, "correlation": {"type": ["number", "null"]},
                       "coverage": {"type": "number"}, "warnings": {"type": "array", "items": {"type": "string"}},
                       "warning_details": {"type": "array", "description": "the warnings, each with its code "
                                           "(the analysis service's ReaderWarningCode) and params",
                                           "items": {"$ref": "#/components/schemas/ImportWarning"}},
                       "replaced_recorded": {"type": "boolean"}, "version": {"type": ["integer", "null"]},
                       "recomputed": {"type": "boolean"}}},
                              **problem_responses(
                                  s409="`heart-rate-recorded` (send replace=true) or `no-samples`",
                                  s413="`payload-too-large`",
                                  s422="the track cannot be read or aligned (the analysis service's problem type, "
                                       "e.g. `unknown-format`, `xml-entities-forbidden`, `heart-rate-not-alignable`)",
                                  s502="`analysis-mismatch`: the analysis service answered something else",
                                  s503="`analysis-unavailable`: the analysis service cannot be reached")})
    def post(self, request, pk):
        limit = settings.MAX_UPLOAD_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + MULTIPART_SLACK:
            raise too_large()
        test = get_object_or_404(test_queries.visible_tests(principal_of(request)), pk=pk)
        request._request.upload_handlers = [SizeLimitUploadHandler(request._request, limit),
                                            *request._request.upload_handlers]
        form = HeartRateUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        body = heart_rate.add_heart_rate(test, user_id=principal_of(request).user_id, filename=upload.name or "",
                                         data=upload.read(limit + 1), offset_s=form.validated_data.get("offset_s"),
                                         replace=form.validated_data.get("replace", False))
        return Response(body)


class UploadRetentionSerializer(strict.Serializer):
    upload_retention_days = serializers.IntegerField(min_value=1, max_value=36500, allow_null=True)


class UploadSettingsView(APIView):
    """How long the tenant keeps uploaded exports: GET (staff); PUT (owner, admin) `{"upload_retention_days": N}`
    or null (keep them while the test exists). A periodic job removes older files; tests and results stay."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=MANAGER_ROLES)]

    @extend_schema(responses={200: UploadRetentionSerializer})
    def get(self, request):
        return Response({"upload_retention_days": queries.upload_retention_days(principal_of(request).tenant_id)})

    @extend_schema(request=UploadRetentionSerializer, responses={200: UploadRetentionSerializer})
    def put(self, request):
        form = UploadRetentionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        principal = principal_of(request)
        row = actions.set_upload_retention(principal.tenant_id, form.validated_data["upload_retention_days"],
                                           by=principal.user_id)
        return Response({"upload_retention_days": row.days})
