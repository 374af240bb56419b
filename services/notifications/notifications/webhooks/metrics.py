"""notifications' webhook metric (servicekit.metrics declares the shared ones; the alert rules name this one)."""
from servicekit import metrics

ENDPOINTS_DISABLED = metrics.counter("vo2_webhook_endpoints_disabled_total",
                                     "Webhook endpoints disabled because every attempt of a delivery failed")
