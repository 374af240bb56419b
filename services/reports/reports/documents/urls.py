from django.urls import path

from servicekit.django.routers import OptionalSlashRouter

from .api import ReportLogoView, ReportSettingsView, ReportViewSet

# routes match with or without the trailing slash (`/api/v1/reports/{id}/file` as in the contract)
router = OptionalSlashRouter()
router.register("reports", ReportViewSet, basename="report")
urlpatterns = [path("reports/settings/logo", ReportLogoView.as_view(), name="report-logo"),
               path("reports/settings/logo/", ReportLogoView.as_view()),
               path("reports/settings", ReportSettingsView.as_view(), name="report-settings"),
               path("reports/settings/", ReportSettingsView.as_view())] + router.urls
