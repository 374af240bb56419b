from servicekit.django.routers import OptionalSlashRouter

from .api import ImportViewSet

router = OptionalSlashRouter()
router.register("imports", ImportViewSet, basename="import")
urlpatterns = router.urls
