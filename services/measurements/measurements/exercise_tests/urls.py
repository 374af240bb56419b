from servicekit.django.routers import OptionalSlashRouter

from .api import ExerciseTestViewSet

router = OptionalSlashRouter()
router.register("tests", ExerciseTestViewSet, basename="test")
urlpatterns = router.urls
