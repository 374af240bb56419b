"""The list filter backend every service uses (REST_FRAMEWORK DEFAULT_FILTER_BACKENDS).

django-filter ignores a query parameter no filter names, so a misspelt `?athelte=<id>` lists every athlete's tests
and the client takes them for one athlete's. Here a list's query parameter that is neither one of its filters nor the
page's (`cursor`, `page_size`) nor DRF's `format` is a 400 `validation-error` naming it (code `unknown_parameter`) and
what the list takes. Only lists: a detail route's query parameters are its own view's to read.
"""
from __future__ import annotations

from django.forms import MultiWidget
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.mixins import ListModelMixin

from ..problems import ProblemError

ALWAYS_KNOWN = frozenset({"cursor", "page_size", "format"})


def _parameter_names(filterset_class) -> set[str]:
    names = set()
    for name, declared in (filterset_class.base_filters if filterset_class else {}).items():
        widget = declared.field.widget
        suffixes = getattr(widget, "suffixes", None) if isinstance(widget, MultiWidget) else None
        if suffixes:  # a range filter: `created_after`, `created_before`
            names.update(f"{name}_{suffix}" if suffix else name for suffix in suffixes)
        else:
            names.add(name)
    return names


def _is_list(request, view) -> bool:
    action = getattr(view, "action", None)
    if action is not None:
        return action == "list"
    return isinstance(view, ListModelMixin) and request.method in ("GET", "HEAD")


class KnownParametersFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if _is_list(request, view):
            known = ALWAYS_KNOWN | _parameter_names(self.get_filterset_class(view, queryset))
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                takes = ", ".join(sorted(known))
                detail = f"Unknown query parameter. This list takes: {takes}."
                raise ProblemError(400, "validation-error", f"{unknown[0]}: {detail}",
                                   errors=[{"field": name, "detail": detail, "code": "unknown_parameter"}
                                           for name in unknown])
        return super().filter_queryset(request, queryset, view)
