from django.urls import include, path

from servicekit.django.urls import handler404, handler500  # noqa: F401  (problem+json for unknown paths, 500s)

from .tokens.api import JWKSView

urlpatterns = [
    path("", include("servicekit.django.urls")),
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
    path("api/v1/", include("identity.tenants.urls")),  # first: tenants/current/ before the operator's tenants/{id}/
    path("api/v1/", include("identity.accounts.urls")),
    path("api/v1/", include("identity.tokens.urls")),
    path("api/v1/", include("identity.audit.urls")),
    path("api/v1/", include("identity.invitations.urls")),
    path("api/v1/", include("identity.sso.urls")),
    path("api/v1/", include("identity.apikeys.urls")),
    path("api/v1/", include("identity.mfa.urls")),
]
