"""URL patterns every Django service includes: health and its own OpenAPI schema."""
from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from . import views

urlpatterns = [
    path("healthz", views.healthz),
    path("readyz", views.readyz),
    path("openapi.json", SpectacularJSONAPIView.as_view(authentication_classes=[], permission_classes=[]),
         name="openapi"),
]

handler404 = "servicekit.django.views.not_found"
handler500 = "servicekit.django.views.server_error"
