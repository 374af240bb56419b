from django.urls import path

from .api import LoginView, LogoutView, RefreshView, ServiceTokenView

urlpatterns = [
    path("auth/login", LoginView.as_view(), name="login"),
    path("auth/refresh", RefreshView.as_view(), name="refresh"),
    path("auth/logout", LogoutView.as_view(), name="logout"),
    path("auth/service-token", ServiceTokenView.as_view(), name="service-token"),
]
