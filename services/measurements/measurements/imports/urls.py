from django.urls import re_path

from servicekit.django.routers import OptionalSlashRouter, detail_route

from .api import ImportViewSet, TestHeartRateView

router = OptionalSlashRouter()
router.register("imports", ImportViewSet, basename="import")
urlpatterns = [
    re_path(detail_route("tests", "heart-rate"), TestHeartRateView.as_view(), name="test-heart-rate"),
    *router.urls,
]
