from servicekit.django.routers import OptionalSlashRouter

from .api import AthleteViewSet

router = OptionalSlashRouter()
router.register("athletes", AthleteViewSet, basename="athlete")
urlpatterns = router.urls
