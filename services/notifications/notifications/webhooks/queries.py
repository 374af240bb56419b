"""Reads of webhooks as the caller may see them (the tenant's, scoped by TenantManager; owners and admins only,
checked by the API's permission)."""
from .models import Delivery, Endpoint


def endpoints():
    return Endpoint.objects.all()


def deliveries_of(endpoint: Endpoint):
    return Delivery.objects.filter(endpoint=endpoint).prefetch_related("attempt_log")
