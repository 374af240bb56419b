from django.urls import path

from .api import (MeView, PasswordChangeView, PasswordResetConfirmView, PasswordResetView, ProfileView,
                  ServiceMemberView, TenantDeletionView)

# the operator's /tenants/ is registered by invitations.urls (its POST invites an existing account as owner)

urlpatterns = [
    path("tenants/<uuid:tenant_id>/deletion", TenantDeletionView.as_view(), name="tenant-deletion"),
    path("tenants/<uuid:tenant_id>/deletion/", TenantDeletionView.as_view()),
    path("auth/me", MeView.as_view(), name="me"),
    path("auth/password", PasswordChangeView.as_view(), name="password-change"),
    path("auth/password/reset", PasswordResetView.as_view(), name="password-reset"),
    path("auth/password/reset/confirm", PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("users/me", ProfileView.as_view(), name="profile"),
    # service to service only (the gateway routes no /api/v1/internal/ path)
    path("internal/members/<uuid:user_id>", ServiceMemberView.as_view(), name="service-member"),
]
