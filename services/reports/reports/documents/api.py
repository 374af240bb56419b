"""HTTP layer of reports: request (202 + status resource), read status, download the PDF, list; tenant settings."""
from __future__ import annotations


import django_filters
from django.conf import settings

from django.http import FileResponse, HttpResponse
from rest_framework import mixins, serializers, viewsets
from servicekit.django import serializers as strict
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer

from servicekit.django import idempotency
from servicekit.django.schema import binary_response, etag_header, location_header, problem_responses
from servicekit.django.drf import principal_of, roles_allowed
from servicekit.django.middleware import public_url
from servicekit.django.renderers import file_renderer
from servicekit.principal import MANAGER_ROLES, STAFF_ROLES
from servicekit.problems import ProblemError

from servicekit import http

from . import actions, assemble, clients, logos, tasks
from .models import (CONCLUSION_MAX, CONTENT_TYPES, FORMATS, LANGUAGES, LOGO_MAX_BYTES, TEMPLATES, Report,
                     report_files)
from .queries import athlete_only, visible_reports

# Owners, admins and physiologists request reports; every member reads (athletes only their own tests').
StaffRequests = roles_allowed(read=None, write=STAFF_ROLES)
StaffReadsManagersWrite = roles_allowed(read=STAFF_ROLES, write=MANAGER_ROLES)
# What a client sees as `status`: the job's status, its stage while it runs (servicekit.jobs.JobRow.public_status).
STATUSES = (("queued", "queued"), (actions.STAGE, actions.STAGE), ("done", "done"), ("failed", "failed"))


class ReportSerializer(strict.ModelSerializer):
    test = serializers.UUIDField(source="test_id")
    athlete = serializers.UUIDField(source="athlete_id", read_only=True, allow_null=True)  # known once rendering starts
    status = serializers.ChoiceField(source="public_status", choices=STATUSES, read_only=True)
    error = serializers.SerializerMethodField()
    file = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = ("id", "test", "athlete", "language", "template", "format", "conclusion", "status", "progress", "error", "file", "sha256",
                  "size_bytes", "pages", "requested_by", "auto", "created_at", "updated_at", "finished_at")
        read_only_fields = fields

    def get_error(self, report) -> dict | None:
        if report.status != Report.Status.FAILED:
            return None
        return {"code": report.error_code, "detail": report.error}

    def get_file(self, report) -> str | None:
        return public_url(f"/api/v1/reports/{report.id}/file") if report.status == Report.Status.DONE else None


@extend_schema_serializer(component_name="NewReport")
class ReportRequestSerializer(strict.Serializer):
    test = serializers.UUIDField()
    language = serializers.ChoiceField(choices=LANGUAGES, default="en")
    template = serializers.ChoiceField(choices=TEMPLATES, default="full")
    format = serializers.ChoiceField(choices=FORMATS, default="pdf")
    conclusion = serializers.CharField(max_length=CONCLUSION_MAX, required=False, allow_blank=True, default="",
                                       trim_whitespace=True)


class ReportFilter(django_filters.FilterSet):
    test = django_filters.UUIDFilter(field_name="test_id")
    athlete = django_filters.UUIDFilter(field_name="athlete_id")
    status = django_filters.ChoiceFilter(choices=STATUSES, method="filter_status")
    language = django_filters.ChoiceFilter(choices=LANGUAGES)
    template = django_filters.ChoiceFilter(choices=TEMPLATES)

    class Meta:
        model = Report
        fields = ("test", "athlete", "status", "language", "template")

    def filter_status(self, queryset, name, value):
        if value == actions.STAGE:
            return queryset.filter(status=Report.Status.RUNNING, stage=value)
        return queryset.filter(status=value)


class ReportViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin,
                    viewsets.GenericViewSet):
    """PDF reports of the tenant's tests. POST answers 202 with the report; poll it; download `file` when done."""

    serializer_class = ReportSerializer
    permission_classes = [StaffRequests]
    filterset_class = ReportFilter
    lookup_value_regex = r"[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        principal = principal_of(self.request)
        own = None
        if athlete_only(principal) and "Authorization" in self.request.headers:
            try:
                own = clients.measurements().own_athletes(self.request.headers["Authorization"])
            except (http.Unavailable, http.Refused, http.NotFound):
                own = None  # measurements cannot say now: only the reports recorded for the user
        return visible_reports(principal, own)

    def get_object(self):
        try:
            import uuid

            uuid.UUID(str(self.kwargs["pk"]))
        except ValueError:
            raise ProblemError(404, "not-found", "No such report here.")
        return super().get_object()

    @extend_schema(request=ReportRequestSerializer, responses={
        202: ReportSerializer, **problem_responses(
            s404="`not-found`: no such test here", s422="`test-not-analysable`: the test's stored result is "
            "insufficient (or the Idempotency-Key was used for another request)",
            s503="`unavailable`: the test cannot be checked right now")},
        parameters=[idempotency.openapi_parameter(), location_header((202,), "The report's status resource")])
    def create(self, request, *args, **kwargs):
        body = ReportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        principal = principal_of(request)
        key = idempotency.key_from(request)
        if settings.REPORT_CHECK_TEST:
            try:
                visible = clients.measurements().caller_sees_test(request.headers["Authorization"],
                                                                  body.validated_data["test"])
            except http.Unavailable as exc:
                raise ProblemError(503, "unavailable", f"Cannot check the test right now ({exc}).") from exc
            if not visible:
                raise ProblemError(404, "not-found", "No such test here.",
                                   errors=[{"field": "test", "detail": "no such test here"}])
            try:
                stored = clients.measurements().analysis_for_caller(request.headers["Authorization"],
                                                                    body.validated_data["test"])
            except http.Unavailable as exc:
                raise ProblemError(503, "unavailable", f"Cannot check the test right now ({exc}).") from exc
            if stored is not None and not assemble.usable(stored):
                raise ProblemError(422, "test-not-analysable",
                                   "The test's stored result is insufficient: there is nothing a report could say.",
                                   errors=[{"field": "test", "detail": "the test cannot be analysed"}])
        data = body.validated_data
        report, created = actions.request_report(
            tenant_id=principal.tenant_id, test_id=data["test"], language=data["language"],
            template=data["template"], format=data["format"], conclusion=data["conclusion"],
            requested_by=principal.user_id, idempotency_key=key)
        if created:
            tasks.render_later(report)
        return idempotency.created_response(ReportSerializer(report).data, f"/api/v1/reports/{report.id}", created,
                                            status=202)

    def _stored_file(self):
        """The done report, its file store, the download's file name and, with S3_PRESIGNED_DOWNLOADS, its presigned
        link (None when this service streams the file); 409 before the report is done, 410 when the file is gone."""
        report = self.get_object()
        if report.status != Report.Status.DONE:
            raise ProblemError(409, "report-not-ready",
                               f"The report is {report.public_status}; its file is not there yet.",
                               status_of_report=report.public_status)
        files = report_files()
        if not files.exists(report.file_path):
            raise ProblemError(410, "report-file-gone", "The report's file is no longer stored; request it again.")
        fmt = report.format or "pdf"
        name = f"vo2max-report-{report.language}-{report.template}-{report.id}.{fmt}"
        link = files.url(report.file_path, filename=name, content_type=CONTENT_TYPES[fmt]) \
            if settings.S3_PRESIGNED_DOWNLOADS else None
        return report, files, name, link

    @extend_schema(responses={
        200: inline_serializer("ReportLink", {
            "url": serializers.URLField(allow_null=True, help_text="the presigned link to the file, or null when "
                                        "`/file` streams it (no presigned downloads here)"),
            "expires_in": serializers.IntegerField(allow_null=True, help_text="seconds the link stays good")}),
        **problem_responses(s409="`report-not-ready`: still queued or rendering, or failed",
                            s410="`report-file-gone`: no longer stored; request the report again")})
    @action(detail=True, methods=["get"], url_path="link", filterset_class=None, pagination_class=None)
    def link(self, request, pk=None):
        """Where a browser fetches the file by itself: the presigned link `/file` would redirect to, as JSON. A
        page whose Content-Security-Policy keeps `fetch` to its own origin navigates to this link (an attachment)
        instead of following the 307; null when there is no link and `/file` streams the bytes."""
        _, _, _, link = self._stored_file()
        response = Response({"url": link, "expires_in": int(settings.S3_PRESIGN_EXPIRY_S) if link else None})
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(responses={
        **binary_response(tuple(CONTENT_TYPES.values()), "The report's file: `application/pdf`, or the DOCX for "
                          "`format: docx` (an attachment)"),
        304: OpenApiResponse(description="`If-None-Match` named this file's ETag: not sent again"),
        307: OpenApiResponse(description="With S3 storage and S3_PRESIGNED_DOWNLOADS: the file at a short-lived "
                                         "presigned link (`Location`)"),
        **problem_responses(s409="`report-not-ready`: still queued or rendering, or failed",
                            s410="`report-file-gone`: no longer stored; request the report again")},
        parameters=[etag_header((200, 304)), location_header((307,), "The presigned link to the file")])
    @action(detail=True, methods=["get"], url_path="file", filterset_class=None, pagination_class=None)
    def file(self, request, pk=None):
        """The rendered file once the report is `done`; 409 before. Streamed by this service, or, with S3 storage and
        S3_PRESIGNED_DOWNLOADS=true, a 307 to a presigned link of the object (short-lived, no-store)."""
        report, files, name, link = self._stored_file()
        fmt = report.format or "pdf"
        if link:  # the object store serves the bytes; the link is good for S3_PRESIGN_EXPIRY_S, never cached
            response = HttpResponse(status=307)
            response["Location"] = link
            response["Cache-Control"] = "no-store"
            return response
        response = FileResponse(files.open(report.file_path), content_type=CONTENT_TYPES[fmt], as_attachment=True,
                                filename=name)
        response["Content-Length"] = str(report.size_bytes or files.size(report.file_path))
        if report.sha256:
            response["ETag"] = f'"{report.sha256}"'
        return response


class ReportSettingsSerializer(strict.Serializer):
    auto_report = serializers.BooleanField(required=False)
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    template = serializers.ChoiceField(choices=TEMPLATES, required=False)
    lab_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    lab_address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    lab_contact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    accent_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, allow_blank=True, max_length=7,
                                          error_messages={"invalid": "a colour as #rrggbb"})
    logo = serializers.URLField(read_only=True, help_text="set by the logo upload")  # a GET's body can be PUT back


class ReportSettingsBodySerializer(ReportSettingsSerializer):
    """What GET/PUT answer: every setting, and the logo's URL when there is one."""

    auto_report = serializers.BooleanField()
    language = serializers.ChoiceField(choices=LANGUAGES)
    template = serializers.ChoiceField(choices=TEMPLATES)
    lab_name = serializers.CharField()
    lab_address = serializers.CharField()
    lab_contact = serializers.CharField()
    accent_color = serializers.CharField()
    logo = serializers.URLField(allow_null=True)


def settings_body(row) -> dict:
    return {"auto_report": row.auto_report, "language": row.language, "template": row.template,
            **{name: getattr(row, name) for name in actions.BRANDING},
            "logo": public_url("/api/v1/reports/settings/logo") if row.logo_png else None}


class ReportSettingsView(APIView):
    """The tenant's report settings: `auto_report` requests a report for every analysed test; the lab's name,
    address, contact and accent colour go on every page's header (with the logo, PUT .../settings/logo)."""

    permission_classes = [StaffReadsManagersWrite]

    @extend_schema(responses=ReportSettingsBodySerializer)
    def get(self, request):
        return Response(settings_body(actions.settings_for_tenant(principal_of(request).tenant_id)))

    @extend_schema(request=ReportSettingsSerializer, responses=ReportSettingsBodySerializer)
    def put(self, request):
        principal = principal_of(request)
        body = ReportSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(settings_body(actions.save_settings(principal.tenant_id, **body.validated_data)))

    @extend_schema(request=ReportSettingsSerializer, responses=ReportSettingsBodySerializer)
    def patch(self, request):
        return self.put(request)


class ReportLogoView(APIView):
    """The lab's logo on every page's header: PUT a PNG or an SVG (the body, or the multipart field `logo`; an SVG
    is sanitised and kept as a PNG, logos.py), GET it (PNG), DELETE it."""

    permission_classes = [StaffReadsManagersWrite]
    # GET answers `Accept: image/png` (was 406: DRF knew only JSON); problems stay problem+json
    renderer_classes = [JSONRenderer, file_renderer("image/png", "png")]
    openapi_body_required = ("PUT",)  # no logo in the request is 400 (servicekit.django.schema)
    parser_classes = [MultiPartParser]  # a raw image/png or image/svg+xml body is read as it came (request.body), not parsed

    @extend_schema(responses={**binary_response(("image/png",), "The logo (PNG)"),
                              **problem_responses(s404="`not-found`: no logo is set")})
    def get(self, request):
        row = actions.settings_for_tenant(principal_of(request).tenant_id)
        if not row.logo_png:
            raise ProblemError(404, "not-found", "No logo is set.")
        return HttpResponse(bytes(row.logo_png), content_type="image/png")

    @extend_schema(
        request={"image/png": {"type": "string", "format": "binary", "minLength": 1},
                 "image/svg+xml": {"type": "string", "format": "binary", "minLength": 1},
                 "multipart/form-data": {"type": "object", "required": ["logo"], "properties": {
                     "logo": {"type": "string", "format": "binary", "minLength": 1, "description": "a PNG or an SVG"}}}},
        responses={200: ReportSettingsBodySerializer, **problem_responses(
            s400="`validation-error`: no logo in the request", s413="`payload-too-large`: over 512 KiB",
            s415="`unsupported-logo`: not a PNG or SVG, unreadable, or too many pixels",
            s422="`unsafe-logo`: the SVG has scripts, entities, external references or too many elements")})
    def put(self, request):
        principal = principal_of(request)
        upload = request.FILES.get("logo") if request.content_type.startswith("multipart/") else None
        data = upload.read(LOGO_MAX_BYTES + 1) if upload is not None else request.body
        row = actions.save_logo(principal.tenant_id, logos.logo_png(data))
        return Response(settings_body(row))

    @extend_schema(responses={204: None})
    def delete(self, request):
        actions.save_logo(principal_of(request).tenant_id, None)
        return Response(status=204)
