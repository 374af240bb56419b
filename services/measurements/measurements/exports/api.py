"""HTTP layer for athlete exports: POST /api/v1/athletes/{id}/export, its status, its file."""
from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from servicekit.django import serializers as strict
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django import idempotency
from servicekit.django.drf import principal_of, roles_allowed
from servicekit.principal import ATHLETE, STAFF_ROLES
from servicekit.problems import ProblemError

from ..athletes.queries import visible_athletes
from . import actions, tasks
from .models import AthleteExport

PROBLEM = OpenApiResponse(description="application/problem+json")
# staff for any athlete of the tenant; a user whose role is athlete for their own record (visible_athletes)
MAY_EXPORT = roles_allowed(read=STAFF_ROLES | {ATHLETE}, write=STAFF_ROLES | {ATHLETE})


class ExportSerializer(strict.Serializer):
    id = serializers.UUIDField()
    athlete = serializers.UUIDField()
    status = serializers.CharField(help_text="queued → gathering → reports → writing → done | failed; expired once "
                                             "the file is past expires_at")
    progress = serializers.IntegerField(min_value=0, max_value=100)
    error = serializers.DictField(allow_null=True, help_text="the problem the export failed with")
    file = serializers.CharField(allow_null=True, help_text="the ZIP's link once done, until it expires")
    size_bytes = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_blank=True)
    contents = serializers.DictField(child=serializers.IntegerField(), help_text="counts of each part of the ZIP")
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class AcceptedExportSerializer(strict.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


def expired(row: AthleteExport) -> bool:
    return bool(row.expires_at and row.expires_at <= timezone.now())


def export_body(row: AthleteExport) -> dict:
    gone = expired(row)
    link = f"/api/v1/athletes/{row.athlete_id}/export/{row.pk}/file"
    return {"id": str(row.pk), "athlete": str(row.athlete_id),
            "status": "expired" if gone else row.public_status, "progress": row.progress,
            "error": row.problem if row.status == row.__class__.Status.FAILED else None,
            "file": link if row.status == "done" and not gone else None, "size_bytes": row.size_bytes,
            "sha256": row.sha256, "contents": row.contents or {},
            "expires_at": row.expires_at, "created_at": row.created_at, "finished_at": row.finished_at}


def _athlete(request, athlete_id):
    return get_object_or_404(visible_athletes(principal_of(request)), pk=athlete_id)


def _export(request, athlete_id, export_id) -> AthleteExport:
    athlete = _athlete(request, athlete_id)
    return get_object_or_404(AthleteExport.objects.filter(athlete=athlete), pk=export_id)


class ExportCreateView(APIView):
    """Everything the lab holds about the athlete, as one ZIP made in the background."""

    permission_classes = [MAY_EXPORT]

    @extend_schema(request=None, parameters=[idempotency.openapi_parameter()],
                   responses={202: AcceptedExportSerializer, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM,
                              409: PROBLEM})
    def post(self, request, athlete_id):
        key = idempotency.key_from(request)
        athlete = _athlete(request, athlete_id)
        row, created = actions.request_export(principal_of(request), athlete, idempotency_key=key)
        if created:
            tasks.run_export.enqueue(str(row.pk), str(row.tenant_id))
        return idempotency.created_response({"id": str(row.pk), "status": row.public_status},
                                            f"/api/v1/athletes/{athlete.pk}/export/{row.pk}", created, status=202)


class ExportView(APIView):
    permission_classes = [MAY_EXPORT]

    @extend_schema(responses={200: ExportSerializer, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
    def get(self, request, athlete_id, export_id):
        return Response(ExportSerializer(export_body(_export(request, athlete_id, export_id))).data)


class ExportFileView(APIView):
    permission_classes = [MAY_EXPORT]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY, 401: PROBLEM, 403: PROBLEM,
                              404: PROBLEM, 409: PROBLEM, 410: PROBLEM})
    def get(self, request, athlete_id, export_id):
        row = _export(request, athlete_id, export_id)
        if row.status != AthleteExport.Status.DONE:
            raise ProblemError(409, "export-not-ready", f"The export is {row.public_status}; its file is not there "
                               "yet.")
        files = actions.export_files()
        if expired(row) or not row.file_key or not files.exists(row.file_key):
            raise ProblemError(410, "export-expired", "This export has expired and its file is removed; request a "
                               "new one.")
        response = FileResponse(files.open(row.file_key), content_type="application/zip", as_attachment=True,
                                filename=f"athlete-{row.athlete_id}-export-{row.pk}.zip")
        response["Content-Length"] = str(row.size_bytes or files.size(row.file_key))
        response["ETag"] = f'"{row.sha256}"'
        response["Cache-Control"] = "private, no-store"
        return response
