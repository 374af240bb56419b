from django.urls import re_path

from .api import PreferencesView

urlpatterns = [re_path(r"^notifications/preferences/?$", PreferencesView.as_view(), name="notification-preferences")]
