from django.urls import include, path

from servicekit.django.urls import handler404, handler500  # noqa: F401  (problem+json for unknown paths, 500s)

# The service runs with health and its OpenAPI schema; its API arrives with its own issue.
urlpatterns = [
    path("", include("servicekit.django.urls")),
]
