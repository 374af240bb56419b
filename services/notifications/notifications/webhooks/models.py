import uuid

from django.db import models

from servicekit import jobs, limits
from servicekit.django.idempotency import CreatedOnce
from servicekit.tenancy import TenantOwned


class Endpoint(CreatedOnce, TenantOwned):
    """An integrator's URL that receives the tenant's events, signed per the Standard Webhooks specification."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)            # event types or fnmatch patterns ("reports.*")
    description = models.CharField(max_length=limits.DESCRIPTION, blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    # the signing secret ("whsec_" + base64), kept because HMAC needs it; during a rotation's overlap the previous
    # one signs as well until previous_secret_until
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.UUIDField(editable=False)
    updated_by = models.UUIDField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_endpoint"
        indexes = [models.Index(fields=["tenant_id", "created_at"])]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "created_by", "idempotency_key"],
                                               name="webhook_endpoint_idempotency_uniq")]

    def __str__(self):
        return self.url


class Delivery(jobs.JobRow, TenantOwned):
    """One event to one endpoint, as a kit job row: queued, running at stage "sending" or "waiting" (for its next
    attempt at next_attempt_at), done once the receiver answered 2xx, failed when the retries ran out."""

    Status = jobs.Status

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(editable=False)         # the webhook-id: receivers dedupe on it
    event_type = models.CharField(max_length=200)
    payload = models.TextField()                        # the CloudEvents envelope, the exact bytes signed
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_until = models.DateTimeField(null=True, blank=True)  # a worker's lease while its request is out
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_delivery"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"]),
                   models.Index(fields=["endpoint", "created_at"])]


class SendingSlot(TenantOwned):
    """One of an endpoint's WEBHOOK_MAX_IN_FLIGHT request slots: held by a delivery while its request is out (until
    its lease ends, should the worker die). A claim takes a free one with SKIP LOCKED, so claims to one receiver
    never queue on each other's locks (a lock on the endpoint's row did, and under load that wait was the
    deliveries' whole latency)."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    delivery_id = models.UUIDField(null=True, blank=True)
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_sending_slot"
        constraints = [models.UniqueConstraint(fields=["endpoint", "number"], name="webhook_sending_slot_uniq")]


class Attempt(TenantOwned):
    """One HTTP request of a delivery: when, what came back, how long it took."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "webhook_attempt"
        indexes = [models.Index(fields=["delivery", "at"])]


class ManualSend(CreatedOnce, TenantOwned):
    """A ping or a manual retry asked with an Idempotency-Key, and its first answer: a retry of that request (the
    caller lost the answer) gets the same answer back instead of a second send."""

    class Kind(models.TextChoices):
        PING = "ping"
        RETRY = "retry"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="+")
    requested_by = models.UUIDField(editable=False)
    answer = models.JSONField(default=dict)  # the first request's 202 body
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "webhook_manual_send"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "requested_by", "idempotency_key"],
                                               name="webhook_manual_send_key_uniq")]


class RetryDue(models.Model):
    """A delivery whose next attempt is further away than a broker should hold a task: the sweep (a periodic task,
    across tenants, hence no RLS here) queues it when due. Holds ids and a time only."""

    delivery_id = models.UUIDField(primary_key=True)
    tenant_id = models.UUIDField()
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "webhook_retry_due"
