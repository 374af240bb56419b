from django.urls import path

from .api import LoginMfaEnrolView, LoginMfaView, TotpConfirmView, TotpDisableView, TotpView

urlpatterns = [
    path("auth/mfa/totp", TotpView.as_view(), name="mfa-totp"),
    path("auth/mfa/totp/confirm", TotpConfirmView.as_view(), name="mfa-totp-confirm"),
    path("auth/mfa/totp/disable", TotpDisableView.as_view(), name="mfa-totp-disable"),
    path("auth/login/mfa", LoginMfaView.as_view(), name="login-mfa"),
    path("auth/login/mfa/enrol", LoginMfaEnrolView.as_view(), name="login-mfa-enrol"),
]
