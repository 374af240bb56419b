"""Nothing is lost while RabbitMQ is down (SaaS mode): an invitation made during the outage is e-mailed exactly once
after the broker returns. Runs last: it stops the broker the whole system uses."""
import subprocess
import time
import uuid

import pytest


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.saas  # local mode's broker is a folder on disk: it has no outage to survive
def test_an_invitation_made_while_the_broker_is_down_is_emailed_once_it_returns(system, owner, mailbox):
    email = f"outage-{uuid.uuid4().hex[:6]}@first.lab"
    rabbitmqctl("stop_app")
    try:
        invited = owner.post("/api/v1/tenants/current/invitations/", {"email": email, "role": "viewer"})
        assert invited.status_code == 201, invited.text  # the change commits; its event waits in the outbox
        time.sleep(2)
        assert not [m for m in mailbox.messages if email in m["to"]]
    finally:
        rabbitmqctl("start_app")
    messages = mailbox.wait_for(email, timeout=90)
    time.sleep(3)  # a duplicate would arrive right behind
    assert len([m for m in mailbox.messages if email in m["to"]]) == 1
