from django.urls import re_path

from servicekit.django.routers import detail_route

from .api import TestSamplesView

urlpatterns = [
    re_path(detail_route("tests", "samples"), TestSamplesView.as_view(), name="test-samples"),
]
