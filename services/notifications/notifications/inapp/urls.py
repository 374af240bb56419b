from rest_framework.routers import SimpleRouter

from .api import NotificationViewSet


class OptionalSlashRouter(SimpleRouter):
    """/notifications/ and /notifications/{id}/read both answer, with or without the trailing slash."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
