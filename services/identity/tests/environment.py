"""identity's own secrets for its test run, set before Django reads the settings (`-p tests.environment` in
pytest.ini, after the kit's plugin): SaaS mode refuses development defaults, and identity reads them once."""
import os
import uuid

os.environ.setdefault("SIGNING_KEY_SECRET", "test-signing-key-secret-" + uuid.uuid4().hex)
os.environ.setdefault("SERVICE_CLIENTS", "reports:reports-test-secret-" + uuid.uuid4().hex[:12])
os.environ.setdefault("SSO_PRIVATE_ISSUER_HOSTS", "127.0.0.1")  # the test OpenID provider (tests/oidc) listens there
