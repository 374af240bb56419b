from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import AcceptInvitationView, InvitationViewSet, MemberViewSet, OperatorTenantViewSet

router = SimpleRouter(trailing_slash=True)
router.register("tenants/current/invitations", InvitationViewSet, basename="invitation")
router.register("tenants/current/members", MemberViewSet, basename="member")
router.register("tenants", OperatorTenantViewSet, basename="tenant")

urlpatterns = [
    path("auth/invitations/accept", AcceptInvitationView.as_view(), name="accept-invitation"),
    *router.urls,
]
