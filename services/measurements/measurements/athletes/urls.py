from rest_framework.routers import SimpleRouter

from .api import AthleteViewSet

router = SimpleRouter(trailing_slash=True)
router.register("athletes", AthleteViewSet, basename="athlete")
urlpatterns = router.urls
