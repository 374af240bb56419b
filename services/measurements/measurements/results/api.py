"""HTTP layer of results that are not under a test: an athlete's progress across tests."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django.drf import StaffWrites, principal_of

from ..athletes.queries import visible_athletes
from . import queries


class AthleteProgressView(APIView):
    """VO2max (abs/rel), VT1/VT2 and zones across the athlete's tests in date order, with meaningful changes."""

    permission_classes = [StaffWrites]

    def get(self, request, pk):
        athlete = get_object_or_404(visible_athletes(principal_of(request)), pk=pk)
        return Response(queries.progress(athlete))
