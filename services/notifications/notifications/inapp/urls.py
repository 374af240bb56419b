from servicekit.django.routers import OptionalSlashRouter

from .api import NotificationViewSet

# /notifications/ and /notifications/{id}/read both answer, with or without the trailing slash
router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
