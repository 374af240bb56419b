from django.urls import path

from .api import CurrentTenantView

urlpatterns = [
    path("tenants/current/", CurrentTenantView.as_view(), name="current-tenant"),
]
