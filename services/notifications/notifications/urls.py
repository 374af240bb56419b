from django.urls import include, path

from servicekit.django.urls import handler404, handler500  # noqa: F401  (problem+json for unknown paths, 500s)

urlpatterns = [
    path("", include("servicekit.django.urls")),
    path("api/v1/", include("notifications.preferences.urls")),
    path("api/v1/", include("notifications.inapp.urls")),
    path("api/v1/", include("notifications.webhooks.urls")),
]
