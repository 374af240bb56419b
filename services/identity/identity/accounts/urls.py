from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import LoginView, MemberViewSet, MeView

router = SimpleRouter(trailing_slash=True)
router.register("tenants/current/members", MemberViewSet, basename="member")

urlpatterns = [
    path("auth/login", LoginView.as_view(), name="login"),
    path("auth/me", MeView.as_view(), name="me"),
    *router.urls,
]
