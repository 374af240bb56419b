from django.urls import path

from .api import DiscoverView, SSOCallbackView, SSOStartView, TenantSSOView

urlpatterns = [
    path("auth/sso/callback", SSOCallbackView.as_view(), name="sso-callback"),
    path("auth/sso/<slug:slug>/start", SSOStartView.as_view(), name="sso-start"),
    path("auth/login/discover", DiscoverView.as_view(), name="login-discover"),
    path("tenants/current/sso", TenantSSOView.as_view(), name="tenant-sso"),
]
