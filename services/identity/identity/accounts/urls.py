from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import MeView, OperatorTenantViewSet

router = SimpleRouter(trailing_slash=True)
router.register("tenants", OperatorTenantViewSet, basename="tenant")

urlpatterns = [
    path("auth/me", MeView.as_view(), name="me"),
    *router.urls,
]
