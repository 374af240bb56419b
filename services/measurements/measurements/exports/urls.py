from django.urls import path

from .api import ExportCreateView, ExportFileView, ExportView

urlpatterns = []
for suffix in ("", "/"):
    urlpatterns += [
        path(f"athletes/<uuid:athlete_id>/export{suffix}", ExportCreateView.as_view(),
             name="athlete-export-create" if not suffix else None),
        path(f"athletes/<uuid:athlete_id>/export/<uuid:export_id>{suffix}", ExportView.as_view(),
             name="athlete-export" if not suffix else None),
        path(f"athletes/<uuid:athlete_id>/export/<uuid:export_id>/file{suffix}", ExportFileView.as_view(),
             name="athlete-export-file" if not suffix else None),
    ]
