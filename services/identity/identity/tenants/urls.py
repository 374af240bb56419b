from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import CurrentTenantView, OperatorTenantViewSet

router = SimpleRouter(trailing_slash=True)
router.register("tenants", OperatorTenantViewSet, basename="tenant")

urlpatterns = [
    path("tenants/current/", CurrentTenantView.as_view(), name="current-tenant"),
    *router.urls,
]
