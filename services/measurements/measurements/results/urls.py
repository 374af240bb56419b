from django.db import transaction
from django.urls import re_path

from servicekit.django.routers import detail_route

from . import api

urlpatterns = [
    re_path(r"^tests/settings/?$", api.AnalysisSettingsView.as_view(), name="test-settings"),
    # no request transaction: a PATCH asks the analysis service between two short transactions of its own
    re_path(detail_route("tests", "analysis"), transaction.non_atomic_requests(api.TestAnalysisView.as_view()),
            name="test-analysis"),
    re_path(detail_route("tests", "analysis/versions"), api.TestAnalysisVersionsView.as_view(),
            name="test-analysis-versions"),
    re_path(detail_route("tests", "lactate-steps"), api.TestLactateStepsView.as_view(), name="test-lactate-steps"),
    re_path(detail_route("athletes", "progress"), api.AthleteProgressView.as_view(), name="athlete-progress"),
]
