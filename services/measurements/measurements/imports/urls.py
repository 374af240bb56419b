from django.urls import re_path

from servicekit.django.routers import OptionalSlashRouter, detail_route

from .api import ImportViewSet, TestHeartRateView, UploadSettingsView

router = OptionalSlashRouter()
router.register("imports", ImportViewSet, basename="import")
urlpatterns = [
    re_path(r"^imports/settings/?$", UploadSettingsView.as_view(), name="import-settings"),  # before imports/{id}
    re_path(detail_route("tests", "heart-rate"), TestHeartRateView.as_view(), name="test-heart-rate"),
    *router.urls,
]
