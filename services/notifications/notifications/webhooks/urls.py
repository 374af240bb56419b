from servicekit.django.routers import OptionalSlashRouter

from .api import EndpointViewSet

router = OptionalSlashRouter()
router.register("webhooks", EndpointViewSet, basename="webhook")
urlpatterns = router.urls
