"""The one clock identity reads (tests move it to prove lockout windows and key retirement)."""
from django.utils import timezone


def now():
    return timezone.now()
