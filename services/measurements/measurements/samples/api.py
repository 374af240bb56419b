"""HTTP layer of samples: a test's breath-by-breath table as JSON columns or CSV, optionally averaged."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django.drf import StaffWrites, principal_of
from servicekit.django.renderers import ColumnsCSVRenderer
from servicekit.problems import ProblemError

from ..exercise_tests import queries as test_queries


def averaging_seconds(raw: str | None) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= 600:
        raise ProblemError(400, "validation-error", "average: seconds between 1 and 600",
                           errors=[{"field": "average", "detail": "seconds between 1 and 600"}])
    return value


SAMPLES_SCHEMA = {"type": "object", "required": ["test", "count", "average_s", "columns"], "properties": {
    "test": {"type": "string", "format": "uuid"}, "count": {"type": "integer"},
    "average_s": {"type": ["number", "null"]},
    "columns": {"type": "object", "description": "channel name -> one value per sample (null where not measured)",
                "additionalProperties": {"type": ["array", "null"], "items": {"type": ["number", "null"]},
                                         "description": "null: the channel was not measured at all"}}}}


class TestSamplesView(APIView):
    """Samples column-wise (JSON) or as CSV (`?format=csv` or `Accept: text/csv`); `?average=10` bins seconds."""

    permission_classes = [StaffWrites]
    renderer_classes = [JSONRenderer, ColumnsCSVRenderer]

    @extend_schema(responses={(200, "application/json"): SAMPLES_SCHEMA,
                              (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="one column per "
                                                                 "measured channel (`?format=csv`)")}, parameters=[
        OpenApiParameter("average", {"type": "number", "minimum": 1, "maximum": 600}, description="mean over bins of this many seconds (1–600)"),
        OpenApiParameter("format", str, enum=["json", "csv"], description="csv: one column per measured channel")])
    def get(self, request, pk, format=None):
        test = get_object_or_404(test_queries.visible_tests(principal_of(request)), pk=pk)
        average = averaging_seconds(request.query_params.get("average"))
        columns = test_queries.samples_columns(test, average)
        body = {"test": str(test.pk), "count": len(columns["time_s"]), "average_s": average,
                "columns": test_queries.present_columns(columns)}
        response = Response(body)
        if getattr(request, "accepted_renderer", None) and request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="test-{test.pk}-samples.csv"'
        return response
