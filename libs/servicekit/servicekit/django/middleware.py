"""Per-request context: request id bound for logs and echoed; the caller's principal cleared afterwards."""
from __future__ import annotations

import logging
import time

from .. import requestid
from ..principal import _current_principal, _current_tenant

access_log = logging.getLogger("vo2.access")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = requestid.accept_or_make(request.headers.get(requestid.HEADER))
        token = requestid.bind(rid)
        p_token, t_token = _current_principal.set(None), _current_tenant.set(None)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[requestid.HEADER] = rid
            if request.path not in ("/healthz", "/readyz"):
                access_log.info("%s %s %s", request.method, request.path, response.status_code,
                                extra={"method": request.method, "path": request.path, "status": response.status_code,
                                       "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            return response
        finally:
            _current_principal.reset(p_token)
            _current_tenant.reset(t_token)
            requestid.unbind(token)
