from django.urls import re_path

from servicekit.django.routers import OptionalSlashRouter

from .api import NotificationViewSet
from .stream import NotificationStream

# /notifications/ and /notifications/{id}/read both answer, with or without the trailing slash
router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = [re_path(r"^notifications/stream/?$", NotificationStream.as_view(), name="notification-stream"),
               *router.urls]
