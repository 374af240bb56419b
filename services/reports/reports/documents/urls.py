from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import ReportSettingsView, ReportViewSet


class OptionalSlashRouter(SimpleRouter):
    """Routes match with or without the trailing slash (`/api/v1/reports/{id}/file` as in the contract)."""

    def __init__(self):
        super().__init__(trailing_slash=True)
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("reports", ReportViewSet, basename="report")
urlpatterns = [path("reports/settings", ReportSettingsView.as_view(), name="report-settings"),
               path("reports/settings/", ReportSettingsView.as_view())] + router.urls
