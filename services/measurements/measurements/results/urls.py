from django.urls import re_path

from ..infra.routers import UUID_REGEX
from .api import AthleteProgressView

urlpatterns = [
    re_path(rf"^athletes/(?P<pk>{UUID_REGEX})/progress/?$", AthleteProgressView.as_view(), name="athlete-progress"),
]
