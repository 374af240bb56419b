from django.urls import path

from servicekit.django.routers import OptionalSlashRouter

from .api import ApiKeyExchangeView, ApiKeyViewSet

router = OptionalSlashRouter()
router.register("tenants/current/api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("auth/api-keys/exchange", ApiKeyExchangeView.as_view(), name="api-key-exchange"),
    *router.urls,
]
