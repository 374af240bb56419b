from django.urls import include, path

from servicekit.django.urls import handler404, handler500  # noqa: F401  (problem+json for unknown paths, 500s)

urlpatterns = [
    path("", include("servicekit.django.urls")),
    path("api/v1/", include("measurements.athletes.urls")),
    path("api/v1/", include("measurements.exercise_tests.urls")),
    path("api/v1/", include("measurements.samples.urls")),
    path("api/v1/", include("measurements.results.urls")),
    path("api/v1/", include("measurements.imports.urls")),
    path("api/v1/", include("measurements.exports.urls")),
    path("api/v1/", include("measurements.erasure.urls")),
]
