from rest_framework.routers import SimpleRouter

from .api import AuditEventViewSet

router = SimpleRouter(trailing_slash=True)
router.register("tenants/current/audit", AuditEventViewSet, basename="audit-event")
urlpatterns = router.urls
