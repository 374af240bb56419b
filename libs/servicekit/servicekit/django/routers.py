"""URL routing pieces every Django service uses: a DRF router whose routes match with or without the trailing slash
(`/api/v1/imports/{id}` as the contract spells it, `/api/v1/tests/` as clients often do), and the id pattern."""
from __future__ import annotations

from rest_framework.routers import SimpleRouter

UUID_REGEX = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class OptionalSlashRouter(SimpleRouter):
    def __init__(self):
        super().__init__(trailing_slash=True)
        self.trailing_slash = "/?"


def detail_route(prefix: str, suffix: str = "") -> str:
    """A `re_path` pattern for a view under one object: `detail_route("tests", "analysis")` →
    `^tests/(?P<pk>…)/analysis/?$` (the same optional slash as the router)."""
    tail = f"/{suffix}" if suffix else ""
    return rf"^{prefix}/(?P<pk>{UUID_REGEX}){tail}/?$"
