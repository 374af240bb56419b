from django.urls import path

from .api import DeletionView

urlpatterns = []
for scope, prefix in (("athlete", "athletes"), ("test", "tests")):
    view = DeletionView.as_view(scope=scope)
    urlpatterns += [path(f"{prefix}/<uuid:subject_id>/deletion", view, name=f"{scope}-deletion"),
                    path(f"{prefix}/<uuid:subject_id>/deletion/", view)]
