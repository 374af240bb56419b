"""A DRF router whose routes match with or without the trailing slash (`/api/v1/imports/{id}` as in the contract,
and `/api/v1/tests/` as the athletes API spells its routes)."""
from rest_framework.routers import SimpleRouter

UUID_REGEX = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class OptionalSlashRouter(SimpleRouter):
    def __init__(self):
        super().__init__(trailing_slash=True)
        self.trailing_slash = "/?"
