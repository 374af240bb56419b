"""Reads of notifications: a user sees only their own, in their tenant (TenantManager scopes the tenant)."""
from servicekit.principal import Principal

from .models import Notification


def own_notifications(principal: Principal):
    return Notification.objects.filter(user_id=principal.user_id)
